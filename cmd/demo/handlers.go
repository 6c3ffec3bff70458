package main

import (
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
func getOr[T any](a *app, r *http.Request, s *chisess.Session, key chisess.Key[T], def T) T {
	v, err := key.Get(s)
	if err != nil {
		if !errors.Is(err, chisess.ErrNoKey) {
			a.log.WarnContext(r.Context(), "session value ignored", "key", key.Name(), "err", err)
		}
		return def
	}
	return v
}

type homeData struct {
	Visits  int
	Streams int
	New     bool
	Origin  string // this server, for the API's curl example
}

// home counts visits in the session.
func (a *app) home(w http.ResponseWriter, r *http.Request) {
	s := chisess.From(r.Context())
	if err := s.Load(r.Context()); err != nil {
		chisess.Error(w, r, err)
		return
	}
	visits := getOr(a, r, s, visitsKey, 0) + 1
	if err := visitsKey.Set(s, visits); err != nil {
		chisess.Error(w, r, err)
		return
	}
	a.render(w, r, http.StatusOK, "home.html", page{Title: "Home", Nav: "home", Data: homeData{
		Visits:  visits,
		Streams: getOr(a, r, s, streamsKey, 0),
		New:     s.IsNew(),
		Origin:  origin(r),
	}})
}

// origin returns the scheme and host the request came to, such as
// "http://127.0.0.1:8080".
func origin(r *http.Request) string {
	if r.TLS != nil {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}

type loginData struct {
	Username string
	Remember bool
	Error    string
}

func (a *app) loginForm(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, http.StatusOK, "login.html", page{Title: "Sign in", Nav: "login", Data: loginData{}})
}

// maxUsername keeps user names short: with the cookie backend the whole
// session travels in a cookie of at most 4096 bytes.
const maxUsername = 40

// checkLogin checks a sign-in and returns what is wrong with it, or "" when
// it may go ahead. wrongPassword tells a bad password from a bad name.
func checkLogin(name, password string) (problem string, wrongPassword bool) {
	switch {
	case name == "":
		return "Enter a user name: any name will do.", false
	case utf8.RuneCountInString(name) > maxUsername:
		return fmt.Sprintf("Keep the user name under %d characters.", maxUsername), false
	case password != "demo":
		return "Wrong password. (It is “demo”.)", true
	}
	return "", false
}

// signIn stores the user in the session, ties the session to the user as
// its owner (for the devices page), and describes the device it runs on.
// With remember, the session outlives the browser: RememberMe gives the
// cookie a Max-Age of Config.RememberFor, and lifts the idle timeout. Call
// it under chisess.RenewToken, which renews the session ID.
func signIn(r *http.Request, s *chisess.Session, name string, remember bool) error {
	return errors.Join(
		userKey.Set(s, name),
		signedInKey.Set(s, time.Now()),
		s.SetOwner(name),
		s.SetDescription(describeDevice(r.UserAgent())),
		s.RememberMe(remember),
	)
}

// login runs under chisess.RenewToken, which has already loaded the session
// and given it a new ID: a session ID planted before login is worthless
// after it.
func (a *app) login(w http.ResponseWriter, r *http.Request) {
	s := chisess.From(r.Context())
	name := strings.TrimSpace(r.PostFormValue("username"))
	remember := r.PostFormValue("remember") != ""
	if problem, _ := checkLogin(name, r.PostFormValue("password")); problem != "" {
		s.AddFlash("error", "Sign-in failed")
		a.render(w, r, http.StatusUnprocessableEntity, "login.html", page{Title: "Sign in", Nav: "login",
			Data: loginData{Username: name, Remember: remember, Error: problem}})
		return
	}
	err := signIn(r, s, name, remember)
	if err == nil {
		err = s.AddFlash("info", "Welcome back, "+name)
	}
	if err == nil && remember {
		err = s.AddFlash("success", "This device stays signed in for "+humanDuration(chisess.DefaultRememberFor)+".")
	}
	if err != nil {
		chisess.Error(w, r, err)
		return
	}
	seeOther(w, r, "/members")
}

// logout ends the session. Destroy leaves a fresh, empty session in its
// place, which carries the flash message to the login page.
func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	s := chisess.From(r.Context())
	if err := s.Load(r.Context()); err != nil {
		chisess.Error(w, r, err)
		return
	}
	// A logout that did not happen must not look like one.
	if err := errors.Join(s.Destroy(), s.AddFlash("info", "You have been logged out")); err != nil {
		chisess.Error(w, r, err)
		return
	}
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
		User:       getOr(a, r, s, userKey, ""),
		SignedInAt: getOr(a, r, s, signedInKey, time.Time{}),
		Notes:      getOr(a, r, s, notesKey, nil),
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
		notes := append(getOr(a, r, s, notesKey, nil), note)
		for len(notes) > maxNotes || jsonSize(notes) > maxNoteBytes {
			notes = notes[1:]
		}
		if err := notesKey.Set(s, notes); err != nil {
			chisess.Error(w, r, err)
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
	if err := errors.Join(notesKey.Delete(s), s.AddFlash("info", "Notes cleared")); err != nil {
		chisess.Error(w, r, err)
		return
	}
	seeOther(w, r, "/members")
}

type sessionData struct {
	Created       time.Time
	LastUsed      time.Time
	Expires       time.Time
	IdleTimeout   time.Duration
	IdleLeft      time.Duration // from the last recorded use
	LifetimeFirst bool          // the lifetime ends before the idle timeout would
	Remembered    bool          // RememberMe: no idle timeout, RememberFor lifetime
	RememberFor   time.Duration
	Lifetime      time.Duration
	Rolling       bool
	SessionCap    time.Duration // the server's limit when Lifetime is zero
	New           bool
	Owner         string
	Values        []keyValue
	Fingerprint   string
	CookieName    string
	CookieBytes   int
	Server        bool // a server-side backend, not the cookie
}

type keyValue struct {
	Key, Type, Value string
}

// session shows the session's metadata and contents.
func (a *app) session(w http.ResponseWriter, r *http.Request) {
	s := chisess.From(r.Context())
	d := sessionData{
		Created:     s.CreatedAt(),
		LastUsed:    s.LastUsed(),
		Expires:     s.ExpiresAt(),
		IdleTimeout: a.cfg.IdleTimeout,
		Remembered:  s.Remembered(),
		RememberFor: chisess.DefaultRememberFor,
		Lifetime:    a.cfg.Lifetime,
		Rolling:     a.cfg.Rolling,
		SessionCap:  chisess.DefaultSessionCap,
		New:         s.IsNew(),
		Owner:       s.Owner(),
		CookieName:  a.sessions.CookieName(),
		Server:      a.sessions.Backend() != nil,
	}
	if d.IdleTimeout > 0 && !d.Remembered {
		// The idle timeout ends the session IdleTimeout after its last
		// recorded use; ExpiresAt is earlier when the lifetime ends first.
		idleEnd := d.LastUsed.Add(d.IdleTimeout)
		d.IdleLeft = time.Until(idleEnd)
		d.LifetimeFirst = d.Expires.Before(idleEnd)
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
	sum := sha256.Sum256([]byte(s.Token()))
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
