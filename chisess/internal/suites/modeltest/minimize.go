package modeltest

import (
	"slices"
	"time"
)

// minimize shrinks the counterexample of r further than rapid can. rapid
// shrinks the draws of a history, but the draws that choose each move of
// the schedule come after those of the requests, so dropping a request
// shifts every move after it and the failure goes away. A Case's Schedule
// is made of Steps that name their request and where it parks, which
// survive dropping other requests; so minimize replays smaller Cases
// (a request fewer, a step fewer, a simpler config, client or server) and
// keeps each one that still breaks the same property, until none does.
func minimize(open Open, r *run, ignore map[string]bool) *run {
	best := r
	prop := r.found[0].prop
	c := r.c
	c.Schedule = compress(r.moves)
	try := func(cand Case) bool {
		got := execute(open(), cand, &replayChooser{steps: cand.Schedule}, ignore)
		if len(got.found) == 0 || got.found[0].prop != prop {
			return false
		}
		cand.Schedule = compress(got.moves)
		if size(cand) >= size(c) {
			return false // what remains runs to the end: no smaller after all
		}
		best = got
		c = cand
		return true
	}
	for improved := true; improved; {
		improved = false
		for i := len(c.Requests) - 1; i >= 0 && len(c.Requests) > 1; i-- {
			if i < len(c.Requests) && try(dropRequest(c, i)) {
				improved = true
			}
		}
		for j := len(c.Schedule) - 1; j >= 0; j-- {
			if j < len(c.Schedule) && try(dropStep(c, j)) {
				improved = true
			}
		}
		for _, simpler := range simplerCases(c) {
			if try(simpler) {
				improved = true
				break
			}
		}
	}
	return best
}

// dropRequest returns c without request i and its steps. The clock move
// before i goes to the request after it, so that what comes due later
// still does.
func dropRequest(c Case, i int) Case {
	out := c
	out.Requests = slices.Delete(slices.Clone(c.Requests), i, i+1)
	if i < len(out.Requests) {
		out.Requests[i].Before += c.Requests[i].Before
	}
	out.Schedule = nil
	for _, s := range c.Schedule {
		switch {
		case s.Req == i:
			continue
		case s.Req > i:
			s.Req--
		}
		if n := len(out.Schedule); n > 0 && out.Schedule[n-1].Req == s.Req {
			out.Schedule[n-1] = s // two steps of one request, now adjacent
			continue
		}
		out.Schedule = append(out.Schedule, s)
	}
	return out
}

func dropStep(c Case, j int) Case {
	out := c
	out.Schedule = slices.Delete(slices.Clone(c.Schedule), j, j+1)
	return out
}

// simplerCases returns Cases that differ from c in one detail, each
// simpler: a config field back to its default, a clock move dropped, a
// request on server 0, a client on cookies, one client fewer.
func simplerCases(c Case) []Case {
	var out []Case
	withConfig := func(f func(*Config)) {
		cand := c
		f(&cand.Config)
		if cand.Config != c.Config {
			out = append(out, cand)
		}
	}
	withConfig(func(cfg *Config) { cfg.Rolling = false })
	withConfig(func(cfg *Config) { cfg.Lifetime = 0 })
	withConfig(func(cfg *Config) { cfg.IdleTimeout = 0 })
	withConfig(func(cfg *Config) { cfg.RenewEvery = 0 })
	if c.Config.RenewEvery > time.Nanosecond {
		withConfig(func(cfg *Config) { cfg.RenewEvery = time.Nanosecond })
	}
	withRequest := func(i int, f func(*Request)) {
		cand := c
		cand.Requests = slices.Clone(c.Requests)
		f(&cand.Requests[i])
		if cand.Requests[i] != c.Requests[i] {
			out = append(out, cand)
		}
	}
	for i := range c.Requests {
		withRequest(i, func(r *Request) { r.Before = 0 })
		withRequest(i, func(r *Request) { r.Server = 0 })
		withRequest(i, func(r *Request) { r.Client = 0 })
	}
	for i, tr := range c.Clients {
		if tr != Cookie {
			cand := c
			cand.Clients = slices.Clone(c.Clients)
			cand.Clients[i] = Cookie
			out = append(out, cand)
		}
	}
	used := false
	for _, r := range c.Requests {
		used = used || r.Client == len(c.Clients)-1
	}
	if len(c.Clients) > 1 && !used {
		cand := c
		cand.Clients = c.Clients[:len(c.Clients)-1]
		out = append(out, cand)
	}
	return out
}

// size orders Cases by how much there is to read in them: requests first,
// then steps, then the details simplerCases drops. Every Case minimize
// keeps is smaller, so it ends.
func size(c Case) int {
	n := len(c.Requests)*100000 + len(c.Schedule)*100 + len(c.Clients)*10
	cfg := c.Config
	for _, set := range []bool{cfg.Rolling, cfg.Lifetime != 0, cfg.IdleTimeout != 0, cfg.RenewEvery != 0, cfg.RenewEvery > time.Nanosecond} {
		if set {
			n++
		}
	}
	for _, r := range c.Requests {
		for _, set := range []bool{r.Before != 0, r.Server != 0, r.Client != 0} {
			if set {
				n++
			}
		}
	}
	for _, tr := range c.Clients {
		if tr != Cookie {
			n++
		}
	}
	return n
}
