package main

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/chisess/kit/chisess"
)

type devicesData struct {
	Owner   string
	Devices []device // most recently used first
	Others  int      // devices other than this one
	NoIndex bool     // the backend cannot list sessions by owner
	Sealed  bool     // because it is the cookie backend
	Indexed []string // the -backend values that can
}

// device is one of the owner's sessions, as the devices page lists it.
type device struct {
	chisess.SessionInfo
	Current bool // the session of this request
}

// devices lists the sessions of the signed-in user: login made the user the
// session's owner (Session.SetOwner), and Manager.Sessions asks the
// backend's owner index for them. The cookie backend keeps no record on the
// server, so it has none: Sessions then returns ErrNoOwnerIndex, and the
// page explains.
func (a *app) devices(w http.ResponseWriter, r *http.Request) {
	s := chisess.From(r.Context())
	d := devicesData{Owner: s.Owner(), Sealed: a.sessions.Backend() == nil}
	infos, err := a.sessions.Sessions(r.Context(), d.Owner)
	switch {
	case errors.Is(err, chisess.ErrNoOwnerIndex):
		d.NoIndex, d.Indexed = true, indexedBackends()
	case err != nil:
		chisess.Error(w, r, err)
		return
	}
	current := s.Handle() // a hash of the token, safe to compare and show
	for _, in := range infos {
		dev := device{SessionInfo: in, Current: in.Handle == current}
		if !dev.Current {
			d.Others++
		}
		d.Devices = append(d.Devices, dev)
	}
	a.render(w, r, http.StatusOK, "devices.html", page{Title: "Your devices", Nav: "devices", Data: d})
}

// logoutDevice ends one of the user's other sessions by its handle
// (Manager.DestroySession). The handle of this very session is an ordinary
// logout.
func (a *app) logoutDevice(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	s := chisess.From(ctx)
	handle := r.PostFormValue("handle")
	if handle != "" && handle == s.Handle() {
		a.logout(w, r)
		return
	}
	owner := s.Owner()
	// DestroySession ignores a handle that is not one of the owner's live
	// sessions (a forged one, or a device already logged out), and does
	// not say which it was; look it up first, for the message.
	infos, err := a.sessions.Sessions(ctx, owner)
	if errors.Is(err, chisess.ErrNoOwnerIndex) {
		s.AddFlash("error", noIndexFlash)
		seeOther(w, r, "/members/devices")
		return
	}
	if err != nil {
		chisess.Error(w, r, err)
		return
	}
	i := slices.IndexFunc(infos, func(in chisess.SessionInfo) bool { return in.Handle == handle })
	if i < 0 {
		s.AddFlash("info", "That device was already logged out.")
		seeOther(w, r, "/members/devices")
		return
	}
	if err := a.sessions.DestroySession(ctx, owner, handle); err != nil {
		chisess.Error(w, r, err)
		return
	}
	s.AddFlash("success", fmt.Sprintf("Logged out %s.", cmp.Or(infos[i].Description, "the device")))
	seeOther(w, r, "/members/devices")
}

// logoutOthers ends every session of the user but this one
// (Manager.DestroyOwner): "log out everywhere else".
func (a *app) logoutOthers(w http.ResponseWriter, r *http.Request) {
	s := chisess.From(r.Context())
	n, err := a.sessions.DestroyOwner(r.Context(), s.Owner(), s)
	switch {
	case errors.Is(err, chisess.ErrNoOwnerIndex):
		s.AddFlash("error", noIndexFlash)
	case err != nil:
		chisess.Error(w, r, err)
		return
	case n == 0:
		s.AddFlash("info", "You are signed in on no other device.")
	case n == 1:
		s.AddFlash("success", "Logged out everywhere else: ended 1 other session.")
	default:
		s.AddFlash("success", fmt.Sprintf("Logged out everywhere else: ended %d other sessions.", n))
	}
	seeOther(w, r, "/members/devices")
}

const noIndexFlash = "This backend cannot list or end your other sessions."
