package main

import "strings"

// describeDevice turns a User-Agent header into a short description for the
// devices page, such as "Chrome on Linux" or "Safari on iOS". It knows the
// common browsers and systems, and a few command-line clients; anything else
// is "Unknown browser" (on the system, when that is known). The result comes
// from the tables below, never from the header itself, so it is short and
// safe to store.
func describeDevice(ua string) string {
	for _, c := range clients {
		if strings.HasPrefix(ua, c.prefix) {
			return c.name
		}
	}
	browser := "Unknown browser"
	for _, b := range browsers {
		if strings.Contains(ua, b.token) {
			browser = b.name
			break
		}
	}
	for _, o := range systems {
		if strings.Contains(ua, o.token) {
			return browser + " on " + o.name
		}
	}
	return browser
}

// clients are programs whose User-Agent starts with their name and says
// nothing useful about the system.
var clients = []struct{ prefix, name string }{
	{"curl/", "curl"},
	{"Wget/", "Wget"},
	{"Go-http-client/", "Go HTTP client"},
	{"python-requests/", "Python requests"},
}

// browsers in the order to test them: most browsers also claim to be
// Safari, and most Chromium-based ones also claim to be Chrome, so the
// specific tokens come first.
var browsers = []struct{ token, name string }{
	{"Edg/", "Edge"}, // Edge on Windows, macOS, Linux
	{"EdgA/", "Edge"},
	{"EdgiOS/", "Edge"},
	{"OPR/", "Opera"},
	{"SamsungBrowser/", "Samsung Internet"},
	{"Vivaldi/", "Vivaldi"},
	{"YaBrowser/", "Yandex Browser"},
	{"HeadlessChrome/", "Headless Chrome"},
	{"Firefox/", "Firefox"},
	{"FxiOS/", "Firefox"},
	{"CriOS/", "Chrome"}, // Chrome on iOS
	{"Chromium/", "Chromium"},
	{"Chrome/", "Chrome"},
	{"Safari/", "Safari"},
}

// systems in the order to test them: Android says Linux, and iOS says
// "like Mac OS X".
var systems = []struct{ token, name string }{
	{"Android", "Android"},
	{"iPhone", "iOS"},
	{"iPod", "iOS"},
	{"iPad", "iPadOS"},
	{"Windows", "Windows"},
	{"CrOS", "ChromeOS"},
	{"Macintosh", "macOS"},
	{"Mac OS X", "macOS"},
	{"Linux", "Linux"},
	{"FreeBSD", "FreeBSD"},
}
