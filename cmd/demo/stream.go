package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/chisess/kit/chisess"
)

type streamData struct {
	Ticks int
	Every time.Duration
}

func (a *app) streamPage(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, http.StatusOK, "stream.html", page{Title: "Stream", Nav: "stream",
		Data: streamData{Ticks: a.cfg.Ticks, Every: a.cfg.TickEvery}})
}

// tick is the data of one server-sent event.
type tick struct {
	N         int    `json:"n"`
	Of        int    `json:"of"`
	Stream    int    `json:"stream"`              // this session's stream count
	CookieSet bool   `json:"cookieSet,omitempty"` // first event only
	At        string `json:"at"`
}

// streamEvents is a server-sent event stream. It changes the session (a
// stream counter) and then flushes: chisess commits the session before that
// first flush, so the Set-Cookie header goes out with the stream's headers,
// and nothing is buffered. The events follow, cfg.TickEvery apart.
func (a *app) streamEvents(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	s := chisess.From(ctx)
	if err := s.Load(ctx); err != nil {
		chisess.Error(w, r, err)
		return
	}
	n := getOr(a, r, s, streamsKey, 0) + 1
	if err := streamsKey.Set(s, n); err != nil {
		chisess.Error(w, r, err)
		return
	}

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // tell nginx not to buffer
	rc := http.NewResponseController(w)
	// The server's WriteTimeout would cut a long stream; this one has a
	// known length. ResponseController reaches net/http's writer through
	// chisess's Unwrap.
	_ = rc.SetWriteDeadline(time.Now().Add(time.Duration(a.cfg.Ticks)*a.cfg.TickEvery + 10*time.Second))
	if err := rc.Flush(); err != nil {
		// chisess.ErrResponseReplaced: the session could not be saved and
		// the error response has been sent instead.
		a.log.WarnContext(ctx, "stream not started", "err", err)
		return
	}
	// The commit has run: the headers that just went out carry our cookie.
	cookieSet := h.Get("Set-Cookie") != ""

	send := func(event string, v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b); err != nil {
			return err
		}
		return rc.Flush()
	}
	t := tick{N: 1, Of: a.cfg.Ticks, Stream: n, CookieSet: cookieSet, At: time.Now().Format("15:04:05")}
	if send("tick", t) != nil {
		return
	}
	ticker := time.NewTicker(a.cfg.TickEvery)
	defer ticker.Stop()
	for t.N < a.cfg.Ticks {
		select {
		case <-ctx.Done():
			return // the browser went away
		case now := <-ticker.C:
			t = tick{N: t.N + 1, Of: a.cfg.Ticks, Stream: n, At: now.Format("15:04:05")}
			if send("tick", t) != nil {
				return
			}
		}
	}
	// A named end event, so the page closes its EventSource instead of
	// letting the browser reconnect (and open a new stream).
	send("done", struct{}{})
}
