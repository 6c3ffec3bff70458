package chisess

import "strings"

// Names for the table of plan_internal_test.go.

var (
	intentNames = map[string]intent{"keep": intentKeep, "modify": intentModify, "renew": intentRenew, "destroy": intentDestroy}
	originNames = map[string]origin{"none": originNone, "rejected": originRejected, "ambiguous": originAmbiguous, "loaded": originLoaded, "forwarded": originForwarded}
	storeNames  = [...]string{storeNone: "", storeTouch: "touch", storeCreate: "create", storeUpdate: "update", storeRenew: "renew", storeDestroy: "destroy", storeSeal: "seal"}
	tokenNames  = [...]string{tokenNone: "", tokenSend: "send", tokenRefresh: "refresh", tokenDrop: "drop"}
)

// String writes a plan as the table does: the store operation ("+periodic"
// for a renewal by age), a slash, the token operation; "-" for nothing.
func (p plan) String() string {
	switch {
	case p.refused:
		return "refused"
	case p == (plan{}):
		return "-"
	}
	s := storeNames[p.store]
	if p.periodic {
		s += "+periodic"
	}
	return strings.Trim(s+"/"+tokenNames[p.token], "/")
}
