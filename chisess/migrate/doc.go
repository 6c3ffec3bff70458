// Package migrate takes over the sessions of alexedwards/scs and
// gorilla/sessions, so that an application switching to chisess signs
// nobody out.
//
// For the first weeks after the switch, mount [Load] where chisess.Load was
// mounted, with the old library as a [Source]:
//
//	old := scs.New()            // configured as before the switch: store, cookie, codec
//	old.Store = goredisstore.New(rdb)
//	r.Use(migrate.Load(sessions, migrate.Options{Until: switchDay.AddDate(0, 0, 30)}, migrate.SCS(old)))
//
// A request that carries no live chisess session but an old session's
// cookie has its old session read once, through the old library itself (scs's
// Store, or gorilla's Store and securecookie), its values converted, and
// stored as a new chisess session with a fresh token. The response sets the
// chisess cookie and expires the old one, and the old session is deleted
// from its store, so it is read once. An old cookie that leads to no
// session, or that does not verify, is never adopted: it is expired, and the
// request goes on with a new, empty session.
//
// After Options.Until, Load is chisess.Load and nothing more.
package migrate
