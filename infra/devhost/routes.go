package main

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// route is one HTTP function's parsed route template (with the routePrefix).
type route struct {
	fn       *Function
	template string
	segments []segment
	methods  []string // upper-case; empty = every method
}

type segKind int

// Ordered from most to least specific: the order ASP.NET routing (and so the
// Functions host) prefers when several templates match one path.
const (
	segLiteral segKind = iota
	segConstrained
	segParam
	segOptional
	segCatchAll
)

type segment struct {
	kind       segKind
	literal    string // segLiteral
	name       string // parameters
	constraint string // e.g. "int"; "" = none
}

var paramRE = regexp.MustCompile(`^\{(\*{0,2})([A-Za-z_][A-Za-z0-9_]*)(?::([A-Za-z]+)(?:\([^)]*\))?)?(\?)?\}$`)

// parseRoute parses "prefix/route" where route segments are literals,
// {name}, {name:constraint}, {name?} or a trailing {*rest} catch-all.
func parseRoute(prefix, tmpl string) ([]segment, error) {
	full := strings.Trim(strings.Trim(prefix, "/")+"/"+strings.Trim(tmpl, "/"), "/")
	if full == "" {
		return nil, nil
	}
	var segs []segment
	parts := strings.Split(full, "/")
	for i, p := range parts {
		if p == "" {
			return nil, fmt.Errorf("route %q has an empty segment", full)
		}
		if !strings.ContainsAny(p, "{}") {
			segs = append(segs, segment{kind: segLiteral, literal: p})
			continue
		}
		m := paramRE.FindStringSubmatch(p)
		if m == nil {
			return nil, fmt.Errorf("route %q: segment %q is not a literal or a single {parameter}", full, p)
		}
		s := segment{name: m[2], constraint: strings.ToLower(m[3])}
		switch {
		case m[1] != "":
			if i != len(parts)-1 {
				return nil, fmt.Errorf("route %q: catch-all {%s%s} must be the last segment", full, m[1], m[2])
			}
			s.kind = segCatchAll
		case m[4] == "?":
			s.kind = segOptional
		case s.constraint != "":
			s.kind = segConstrained
		default:
			s.kind = segParam
		}
		segs = append(segs, s)
	}
	for i, s := range segs {
		if s.kind == segOptional && i != len(segs)-1 {
			return nil, fmt.Errorf("route %q: optional {%s?} must be the last segment", full, s.name)
		}
	}
	return segs, nil
}

// buildRoutes parses the route of every enabled HTTP function, ordered so
// that the most specific template is tried first.
func buildRoutes(app *App) ([]*route, error) {
	var routes []*route
	for _, f := range app.Functions {
		if f.Disabled || f.Kind() != triggerHTTP {
			continue
		}
		tmpl := f.Trigger.Route
		if tmpl == "" {
			tmpl = f.Name // the host's default route
		}
		// The host keeps /admin for its own API whatever the routePrefix,
		// and refuses a function whose route starts with "admin".
		if strings.HasPrefix(strings.ToLower(strings.TrimLeft(tmpl, "/")), "admin") {
			return nil, fmt.Errorf("function %s: route %q: the specified route conflicts with one or more built in routes", f.Name, tmpl)
		}
		segs, err := parseRoute(app.Host.RoutePrefix, tmpl)
		if err != nil {
			return nil, fmt.Errorf("function %s: %w", f.Name, err)
		}
		r := &route{fn: f, template: strings.Trim(app.Host.RoutePrefix+"/"+tmpl, "/"), segments: segs}
		for _, m := range f.Trigger.Methods {
			r.methods = append(r.methods, strings.ToUpper(m))
		}
		routes = append(routes, r)
	}
	slices.SortStableFunc(routes, func(a, b *route) int { return comparePrecedence(a.segments, b.segments) })
	return routes, nil
}

// comparePrecedence orders templates as the host's WebJobsRouteBuilder
// (azure-webjobs-sdk-extensions, Routing/WebJobsRouteBuilder.cs,
// RouteComparison) does before matching them in order: segment by segment,
// a literal before a parameter, a constrained parameter before a plain one,
// then the longer template first. Where the host sees a tie (a plain, an
// optional and a catch-all parameter in the same place) its sort is not
// stable; the dev host settles it the way ASP.NET's own precedence does.
func comparePrecedence(a, b []segment) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i].kind != b[i].kind {
			return int(a[i].kind) - int(b[i].kind)
		}
	}
	return len(b) - len(a) // longer first: more to match
}

// matchRoute finds the function for a request path and method, returning
// the route parameters. ok is false when no route matches.
func matchRoute(routes []*route, method, escapedPath string) (r *route, params map[string]string, ok bool) {
	path := strings.Trim(escapedPath, "/")
	var parts []string
	if path != "" {
		parts = strings.Split(path, "/")
	}
	for _, r := range routes {
		if len(r.methods) > 0 && !slices.Contains(r.methods, method) {
			continue
		}
		if params, ok := r.match(parts); ok {
			return r, params, true
		}
	}
	return nil, nil, false
}

func (r *route) match(parts []string) (map[string]string, bool) {
	params := map[string]string{}
	for i, s := range r.segments {
		if s.kind == segCatchAll {
			rest := make([]string, 0, len(parts)-i)
			for _, p := range parts[i:] {
				rest = append(rest, unescape(p))
			}
			params[s.name] = strings.Join(rest, "/")
			return params, true
		}
		if i >= len(parts) {
			if s.kind == segOptional {
				return params, true
			}
			return nil, false
		}
		v := unescape(parts[i])
		if s.kind == segLiteral {
			if !strings.EqualFold(s.literal, v) {
				return nil, false
			}
			continue
		}
		if !constraintOK(s.constraint, v) {
			return nil, false
		}
		params[s.name] = v
	}
	if len(parts) != len(r.segments) {
		return nil, false
	}
	return params, true
}

func unescape(p string) string {
	if v, err := url.PathUnescape(p); err == nil {
		return v
	}
	return p
}

var (
	alphaRE = regexp.MustCompile(`^[A-Za-z]+$`)
	guidRE  = regexp.MustCompile(`^\{?[0-9A-Fa-f]{8}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{12}\}?$`)
)

// constraintOK checks the common ASP.NET route constraints; unknown ones
// accept any value rather than hide a route.
func constraintOK(c, v string) bool {
	switch c {
	case "int":
		_, err := strconv.ParseInt(v, 10, 32)
		return err == nil
	case "long":
		_, err := strconv.ParseInt(v, 10, 64)
		return err == nil
	case "bool":
		_, err := strconv.ParseBool(v)
		return err == nil && (strings.EqualFold(v, "true") || strings.EqualFold(v, "false"))
	case "alpha":
		return alphaRE.MatchString(v)
	case "guid":
		return guidRE.MatchString(v)
	}
	return true
}
