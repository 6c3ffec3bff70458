package main

import (
	"time"

	"github.com/chisess/kit/chisess"
)

// The demo's session keys, each declared once with its value type, so every
// handler reads and writes a key as the same type. The names are what the
// session page lists.
var (
	userKey     = chisess.NewKey[string]("user")            // the signed-in user; absent when signed out
	signedInKey = chisess.NewKey[time.Time]("signed_in_at") // when the user signed in
	visitsKey   = chisess.NewKey[int]("visits")             // home page (and API) visits
	notesKey    = chisess.NewKey[[]string]("notes")         // the members page's notes, newest last
	streamsKey  = chisess.NewKey[int]("streams")            // event streams opened
)
