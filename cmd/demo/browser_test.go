package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/matryer/is"
)

// browserTimeout bounds the whole browser test, start-up included, so that a
// browser that hangs fails the test instead of stalling CI.
const browserTimeout = 60 * time.Second

// sessionCookieName is chisess's default Config.CookieName, which the demo
// does not change.
const sessionCookieName = "__Host-session"

// TestBrowserLoginReloadLogout drives a real Chromium through the
// demo: a visitor is sent to the login page, signs in, reloads and stays
// signed in, and signs out again. It also reads the session cookie as the
// browser stored it, which no Go cookie jar can show: Secure, HttpOnly,
// SameSite=Lax and no expiry. The demo is served over plain http on
// 127.0.0.1, which Chromium counts as a secure context, so it keeps the
// Secure cookie.
//
// The test writes a screenshot of the members page to a folder under the
// system's temporary directory, and leaves it there for a person to look at;
// the test log gives its path.
//
// It needs Chromium: CHISESS_CHROMIUM, else /usr/bin/chromium, else chromium
// on PATH. Without it the test skips, or fails when CHISESS_REQUIRE_SERVICES=1
// (scripts/test.sh installs Debian's chromium and sets both).
func TestBrowserLoginReloadLogout(t *testing.T) {
	chromium := chromiumPath(t)
	is := is.New(t)
	srv := newTestServer(t, testConfig(t, "cookie")) // the demo's default backend
	ctx := newBrowser(t, chromium)

	// do runs the actions of one step, and fails the test with the step's
	// name when one of them fails.
	do := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	// run runs one action that returns a value, as do does.
	run := func(step string, a chromedp.Action[string]) string {
		t.Helper()
		v, err := chromedp.Run(ctx, a)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		return v
	}
	// path is the path of the page the browser shows, from its location bar.
	path := func(step string) string {
		t.Helper()
		loc := run(step, chromedp.Location())
		p, ok := strings.CutPrefix(loc, srv.URL)
		if !ok {
			t.Fatalf("%s: the browser is at %s, not on the demo at %s", step, loc, srv.URL)
		}
		return p
	}
	// flashes counts the flash messages on the page.
	flashes := func(step string) int {
		t.Helper()
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll(".flash").length`))
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		return n
	}

	start := time.Now()
	do("open /members", chromedp.Navigate(srv.URL+"/members"), chromedp.WaitVisible(chromedp.CSS("#username")))
	t.Logf("browser started and showed its first page in %v", time.Since(start).Round(time.Millisecond))
	flow := time.Now()
	is.Equal(path("open /members"), "/login") // a visitor without a session is sent to the login page

	do("sign in",
		chromedp.SendKeys(chromedp.CSS("#username"), "ada"),
		chromedp.SendKeys(chromedp.CSS("#password"), "demo"),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button`)),
		// Only a signed-in page shows the user in the nav.
		chromedp.WaitVisible(chromedp.CSS(".user-name")),
	)
	is.Equal(path("sign in"), "/members")                                                     // signing in leads to the members page
	is.Equal(run("greeting", chromedp.Text(chromedp.CSS("main h1"))), "Hello, ada")           // which greets the user
	is.Equal(run("welcome", chromedp.Text(chromedp.CSS(".flash-info"))), "Welcome back, ada") // with the login flash

	do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(".user-name")))
	is.Equal(path("reload"), "/members")                                            // a reload stays on the members page
	is.Equal(run("greeting", chromedp.Text(chromedp.CSS("main h1"))), "Hello, ada") // still signed in
	is.Equal(flashes("reload"), 0)                                                  // the flash was shown once

	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{})
	if err != nil {
		t.Fatalf("read cookies: %v", err)
	}
	signedIn := sessionCookie(t, res.Cookies)
	t.Logf("stored cookie: %s domain=%s path=%s secure=%v httpOnly=%v sameSite=%s session=%v expires=%v sourceScheme=%s size=%d",
		signedIn.Name, signedIn.Domain, signedIn.Path, signedIn.Secure, signedIn.HTTPOnly, signedIn.SameSite,
		signedIn.Session, signedIn.Expires, signedIn.SourceScheme, signedIn.Size)
	is.True(signedIn.Secure)                               // the browser kept the Secure flag, over http on 127.0.0.1
	is.True(signedIn.HTTPOnly)                             // scripts cannot read the cookie
	is.Equal(signedIn.SameSite, network.CookieSameSiteLax) // cross-site posts do not carry it
	is.True(signedIn.Session)                              // Lifetime 0: a browser-session cookie
	is.Equal(signedIn.Expires, float64(-1))                // with no expiry date
	is.Equal(signedIn.Path, "/")                           // for the whole site
	is.Equal(signedIn.Domain, "127.0.0.1")                 // host-only, for the demo's host
	is.Equal(len(res.Cookies), 1)                          // and no other cookie
	noScript, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.cookie`))
	is.NoErr(err)
	is.Equal(noScript, "") // HttpOnly, as the page's scripts see it

	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100 is a PNG
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	dir, err := os.MkdirTemp("", "chisess-demo-screenshot-")
	is.NoErr(err)
	file := filepath.Join(dir, "members.png")
	is.NoErr(os.WriteFile(file, shot, 0o644))
	t.Logf("screenshot of the members page (kept after the test): %s", file)

	do("log out",
		chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)),
		// Only the login page has the user name field.
		chromedp.WaitVisible(chromedp.CSS("#username")),
	)
	is.Equal(path("log out"), "/login")                                                                   // logging out leads to the login page
	is.Equal(run("logout flash", chromedp.Text(chromedp.CSS(".flash-info"))), "You have been logged out") // which says so
	is.Equal(run("nav", chromedp.Text(chromedp.CSS(".who"))), "Sign in")                                  // and nobody is signed in

	res, err = chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{})
	if err != nil {
		t.Fatalf("read cookies: %v", err)
	}
	// Logout replaced the session with an empty one that carried only the
	// flash; the login page took the flash, and chisess then deleted the
	// emptied session's cookie.
	is.Equal(findCookie(res.Cookies, sessionCookieName), nil) // the browser holds no session cookie any more

	do("open /members again", chromedp.Navigate(srv.URL+"/members"), chromedp.WaitVisible(chromedp.CSS("#username")))
	is.Equal(path("open /members again"), "/login") // members only again
	is.Equal(flashes("open /members again"), 0)     // and the logout flash was shown once
	t.Logf("flow took %v after start-up", time.Since(flow).Round(time.Millisecond))
}

// sessionCookie returns the demo's session cookie among cookies, and fails
// the test when there is none.
func sessionCookie(t *testing.T, cookies []*network.Cookie) *network.Cookie {
	t.Helper()
	c := findCookie(cookies, sessionCookieName)
	if c == nil {
		t.Fatalf("the browser stores no %q cookie for the demo (cookies: %d)", sessionCookieName, len(cookies))
	}
	return c
}

// findCookie returns the cookie called name, or nil.
func findCookie(cookies []*network.Cookie, name string) *network.Cookie {
	for _, c := range cookies {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// chromiumPath returns the Chromium to run: CHISESS_CHROMIUM when it is set,
// else /usr/bin/chromium (Debian's), else chromium on PATH. A CHISESS_CHROMIUM
// that names no program is not replaced by the others. Without a Chromium the
// test skips, or fails when CHISESS_REQUIRE_SERVICES=1.
func chromiumPath(t *testing.T) string {
	t.Helper()
	var why string
	if env := os.Getenv("CHISESS_CHROMIUM"); env != "" {
		p, err := exec.LookPath(env)
		if err == nil {
			return p
		}
		why = "CHISESS_CHROMIUM=" + env + ": " + err.Error()
	} else {
		for _, name := range []string{"/usr/bin/chromium", "chromium"} {
			if p, err := exec.LookPath(name); err == nil {
				return p
			}
		}
		why = "CHISESS_CHROMIUM is not set, and there is neither /usr/bin/chromium nor chromium on PATH"
	}
	if os.Getenv("CHISESS_REQUIRE_SERVICES") == "1" {
		t.Fatalf("%s, but CHISESS_REQUIRE_SERVICES=1 requires the browser test: install Debian's chromium or set CHISESS_CHROMIUM to a Chromium binary", why)
	}
	t.Log(why)
	t.Skip("chromium not found: install Debian's chromium or set CHISESS_CHROMIUM (scripts/test.sh does both)")
	return ""
}

// newBrowser starts a headless Chromium at execPath with an empty profile,
// and returns a context for its first tab. The browser is stopped, and waited
// for, when the test ends, or at browserTimeout.
func newBrowser(t *testing.T, execPath string) context.Context {
	t.Helper()
	// Made before the cleanup below is registered, so it is removed after
	// the browser has exited.
	profile := t.TempDir()
	ctx, cancelTimeout := context.WithTimeout(t.Context(), browserTimeout)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(execPath),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Headless,
		chromedp.Flag("no-sandbox", true), // CI runs as root, where the sandbox cannot start
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
	)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc() // waits for the browser process to exit
		cancelTimeout()
	})
	return browserCtx
}
