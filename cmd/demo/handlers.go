package main

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/chisess/kit/chisess"
)

// getOr returns the value under key, or def when the session has none. A
// value of another type (left by an older version of the app, say) is
// logged and treated as absent.
func getOr[T any](a *app, r *http.Request, s *chisess.Session, key string, def T) T {
	v, err := chisess.Get[T](s, key)
	if err != nil {
		if !errors.Is(err, chisess.ErrNoKey) {
			a.log.WarnContext(r.Context(), "session value ignored", "key", key, "err", err)
		}
		return def
	}
	return v
}

type homeData struct {
	Visits  int
	Streams int
	New     bool
}

// home counts visits in the session.
func (a *app) home(w http.ResponseWriter, r *http.Request) {
	s := chisess.From(r.Context())
	if err := s.Load(r.Context()); err != nil {
		a.sessionError(w, r, err)
		return
	}
	visits := getOr(a, r, s, "visits", 0) + 1
	if err := s.Set("visits", visits); err != nil {
		a.sessionError(w, r, err)
		return
	}
	a.render(w, r, http.StatusOK, "home.html", page{Title: "Home", Nav: "home", Data: homeData{
		Visits:  visits,
		Streams: getOr(a, r, s, "streams", 0),
		New:     s.IsNew(),
	}})
}

type loginData struct {
	Username string
	Error    string
}

func (a *app) loginForm(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, http.StatusOK, "login.html", page{Title: "Sign in", Nav: "login", Data: loginData{}})
}

// maxUsername keeps user names short: with the cookie backend the whole
// session travels in a cookie of at most 4096 bytes.
const maxUsername = 40

// login runs under chisess.Rotate, which has already loaded the session
// and given it a new ID: a session ID planted before login is worthless
// after it.
func (a *app) login(w http.ResponseWriter, r *http.Request) {
	s := chisess.From(r.Context())
	name := strings.TrimSpace(r.PostFormValue("username"))
	var problem string
	switch {
	case name == "":
		problem = "Enter a user name: any name will do."
	case utf8.RuneCountInString(name) > maxUsername:
		problem = fmt.Sprintf("Keep the user name under %d characters.", maxUsername)
	case r.PostFormValue("password") != "demo":
		problem = "Wrong password. (It is “demo”.)"
	}
	if problem != "" {
		s.AddFlash("error", "Sign-in failed")
		a.render(w, r, http.StatusUnprocessableEntity, "login.html", page{Title: "Sign in", Nav: "login",
			Data: loginData{Username: name, Error: problem}})
		return
	}
	if err := errors.Join(
		s.Set("user", name),
		s.Set("signed_in_at", time.Now()),
		s.AddFlash("info", "Welcome back, "+name),
	); err != nil {
		a.sessionError(w, r, err)
		return
	}
	seeOther(w, r, "/members")
}

// logout ends the session. Destroy leaves a fresh, empty session in its
// place, which carries the flash message to the login page.
func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	s := chisess.From(r.Context())
	if err := s.Load(r.Context()); err != nil {
		a.sessionError(w, r, err)
		return
	}
	s.Destroy()
	s.AddFlash("info", "You have been logged out")
	seeOther(w, r, "/login")
}

type membersData struct {
	User       string
	SignedInAt time.Time
	Notes      []string
	MaxNote    int
}

// members runs under Autoload and Require("user"): the session is loaded
// and holds a user.
func (a *app) members(w http.ResponseWriter, r *http.Request) {
	s := chisess.From(r.Context())
	a.render(w, r, http.StatusOK, "members.html", page{Title: "Members", Nav: "members", Data: membersData{
		User:       getOr(a, r, s, "user", ""),
		SignedInAt: getOr(a, r, s, "signed_in_at", time.Time{}),
		Notes:      getOr[[]string](a, r, s, "notes", nil),
		MaxNote:    maxNote,
	}})
}

// Notes are kept small: with the cookie backend they ride in the cookie.
const (
	maxNote      = 140  // characters per note
	maxNotes     = 5    // the newest ones are kept
	maxNoteBytes = 1500 // their JSON, at most
)

// addNote stores a note in the session, then redirects (post/redirect/get).
func (a *app) addNote(w http.ResponseWriter, r *http.Request) {
	s := chisess.From(r.Context())
	note := strings.TrimSpace(r.PostFormValue("note"))
	switch {
	case note == "":
		s.AddFlash("error", "Write something first.")
	case utf8.RuneCountInString(note) > maxNote:
		s.AddFlash("error", fmt.Sprintf("Notes are at most %d characters.", maxNote))
	default:
		notes := append(getOr[[]string](a, r, s, "notes", nil), note)
		for len(notes) > maxNotes || jsonSize(notes) > maxNoteBytes {
			notes = notes[1:]
		}
		if err := s.Set("notes", notes); err != nil {
			a.sessionError(w, r, err)
			return
		}
		s.AddFlash("success", "Saved")
	}
	seeOther(w, r, "/members")
}

func jsonSize(v any) int {
	b, _ := json.Marshal(v)
	return len(b)
}

func (a *app) clearNotes(w http.ResponseWriter, r *http.Request) {
	s := chisess.From(r.Context())
	s.Delete("notes")
	s.AddFlash("info", "Notes cleared")
	seeOther(w, r, "/members")
}

type sessionData struct {
	Created     time.Time
	Expires     time.Time
	IdleTimeout time.Duration
	IdleLeft    time.Duration // 0 when the lifetime ends first
	Lifetime    time.Duration
	Rolling     bool
	SessionCap  time.Duration // the server's limit when Lifetime is zero
	New         bool
	Values      []keyValue
	Fingerprint string
	CookieName  string
	CookieBytes int
	Server      bool // a server-side backend, not the cookie
}

type keyValue struct {
	Key, Type, Value string
}

// session shows the session's metadata and contents.
func (a *app) session(w http.ResponseWriter, r *http.Request) {
	s := chisess.From(r.Context())
	now := time.Now()
	d := sessionData{
		Created:     s.CreatedAt(),
		Expires:     s.ExpiresAt(),
		IdleTimeout: a.cfg.IdleTimeout,
		Lifetime:    a.cfg.Lifetime,
		Rolling:     a.cfg.Rolling,
		SessionCap:  chisess.DefaultSessionCap,
		New:         s.IsNew(),
		CookieName:  a.sessions.CookieName(),
		Server:      a.sessions.Backend() != nil,
	}
	if a.cfg.IdleTimeout > 0 {
		// ExpiresAt is the earlier of the lifetime's end and the idle
		// timeout's; the idle timeout is the one that binds unless the
		// lifetime (counted from creation) ends first.
		end := d.Created.Add(cmp.Or(a.cfg.Lifetime, chisess.DefaultSessionCap))
		if a.cfg.Rolling || d.Expires.Before(end) {
			d.IdleLeft = d.Expires.Sub(now)
		}
	}
	for _, k := range s.Keys() {
		v, err := chisess.Get[any](s, k)
		kv := keyValue{Key: k, Type: fmt.Sprintf("%T", v)}
		switch v := v.(type) {
		case time.Time:
			kv.Value = v.Local().Format(time.DateTime)
		default:
			var b strings.Builder
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(false) // html/template escapes it for the page
			enc.Encode(v)
			kv.Value = strings.TrimSpace(b.String())
		}
		if err != nil {
			kv.Type, kv.Value = "?", err.Error()
		}
		d.Values = append(d.Values, kv)
	}
	// The ID is a password: show only a fingerprint, to watch it change
	// on login and logout.
	sum := sha256.Sum256([]byte(s.ID()))
	d.Fingerprint = hex.EncodeToString(sum[:6])
	if c, err := r.Cookie(d.CookieName); err == nil {
		d.CookieBytes = len(c.Name) + 1 + len(c.Value)
	}
	a.render(w, r, http.StatusOK, "session.html", page{Title: "Session", Nav: "session", Data: d})
}

type messageData struct {
	Heading, Text string
}

func (a *app) notFound(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, http.StatusNotFound, "message.html", page{Title: "Not found", Data: messageData{
		Heading: "Nothing here",
		Text:    "There is no page at " + r.URL.Path + ".",
	}})
}
