package otelchisess

// Version is the version of this instrumentation, reported as the version
// of its instrumentation scope.
func Version() string {
	return "0.1.0"
}
