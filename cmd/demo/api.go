package main

import (
	"encoding/json"
	"mime"
	"net/http"
	"strings"

	"github.com/chisess/kit/chisess"
)

// The JSON API under /api runs under chisess.TokenHeader("Authorization"):
// its sessions travel as "Authorization: Bearer <token>" instead of a
// cookie. chisess reads the token from the request, and puts a new one in
// the response's Authorization header whenever it changes (at login, and
// with the cookie backend at every save); a response to logout carries the
// header empty. The client keeps the newest token it was given.

// apiUser is what /api/login, /api/me and /api/logout answer.
type apiUser struct {
	User   string `json:"user"` // "" when signed out
	Visits int    `json:"visits"`
}

type apiError struct {
	Error string `json:"error"`
}

// maxAPIBody bounds the body of an API request.
const maxAPIBody = 4 << 10

// apiLogin signs in from a form (username, password, remember) or a JSON
// object {"username": ..., "password": ..., "remember": ...}. It runs under
// chisess.RenewToken, as the login form does: the session gets a new ID, whose
// token goes back in the Authorization header.
func (a *app) apiLogin(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Username string `json:"username"`
		Password string `json:"password"`
		Remember bool   `json:"remember"`
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxAPIBody)
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/json" {
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			writeJSON(w, http.StatusBadRequest, apiError{Error: `send {"username": "...", "password": "..."}`})
			return
		}
	} else {
		in.Username, in.Password = r.PostFormValue("username"), r.PostFormValue("password")
		in.Remember = r.PostFormValue("remember") != ""
	}
	name := strings.TrimSpace(in.Username)
	if problem, wrongPassword := checkLogin(name, in.Password); problem != "" {
		status := http.StatusUnprocessableEntity
		if wrongPassword {
			status = http.StatusUnauthorized
		}
		writeJSON(w, status, apiError{Error: problem})
		return
	}
	s := chisess.From(r.Context())
	if err := signIn(r, s, name, in.Remember); err != nil {
		chisess.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, apiUser{User: name, Visits: getOr(a, r, s, visitsKey, 0)})
}

// apiMe says who the token belongs to. For a signed-in client it counts a
// visit, so that the session visibly changes from call to call; an
// anonymous call leaves no session behind.
func (a *app) apiMe(w http.ResponseWriter, r *http.Request) {
	s := chisess.From(r.Context())
	me := apiUser{User: getOr(a, r, s, userKey, ""), Visits: getOr(a, r, s, visitsKey, 0)}
	if me.User != "" {
		me.Visits++
		if err := visitsKey.Set(s, me.Visits); err != nil {
			chisess.Error(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, me)
}

// apiLogout ends the session; the response carries an empty Authorization
// header, telling the client to forget its token.
func (a *app) apiLogout(w http.ResponseWriter, r *http.Request) {
	if err := chisess.From(r.Context()).Destroy(); err != nil {
		chisess.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, apiUser{})
}

func (a *app) apiNotFound(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusNotFound, apiError{Error: "no such endpoint: " + r.Method + " " + r.URL.Path})
}

func (a *app) apiMethodNotAllowed(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusMethodNotAllowed, apiError{Error: r.Method + " is not allowed on " + r.URL.Path})
}

// isAPI reports whether r is a request to the JSON API.
func isAPI(r *http.Request) bool {
	return r.URL.Path == "/api" || strings.HasPrefix(r.URL.Path, "/api/")
}

// writeJSON answers with v as JSON. API responses are never cached: they
// depend on the token.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
