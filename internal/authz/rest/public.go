package rest

import (
	"fmt"
	"strings"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/scope"
)

// PublicRoutes are the routes that the proxy forwards without a key
// (PERMITTED_ROUTES_JSON and PERMITTED_ROUTES_FILE), in the Node.js
// proxy's form: a JSON object that maps methods, or "*", to lists of path
// globs, e.g. {"GET": ["api/health", "api/flows/*"]}. The globs are those
// of route scopes (see scope.Pattern) and match the full path, API mount
// included; a leading "/" is optional. A nil *PublicRoutes matches nothing.
type PublicRoutes struct {
	sets []*scope.RouteSet
}

// ParsePublicRoutes compiles one or more JSON texts, whose routes add up.
// Empty or blank texts are skipped. The error names the text by position
// and lists every problem, so that the proxy refuses to start with a
// public route that is not what the operator meant.
func ParsePublicRoutes(jsonTexts ...string) (*PublicRoutes, error) {
	routes := &PublicRoutes{}
	for i, text := range jsonTexts {
		if strings.TrimSpace(text) == "" {
			continue
		}

		set, err := scope.ParseRouteMap(text)
		if err != nil {
			return nil, fmt.Errorf("parse public routes (text %d): %w", i+1, err)
		}
		routes.sets = append(routes.sets, set)
	}
	return routes, nil
}

// Match reports whether a public route allows the request. The method is
// compared case-insensitively and the path is the clean, decoded path
// that CleanPath returned. Match does not allocate.
func (p *PublicRoutes) Match(method, path string) bool {
	if p == nil {
		return false
	}
	for _, set := range p.sets {
		if _, ok := set.Allow(method, path); ok {
			return true
		}
	}
	return false
}

// Items returns the compiled routes as "METHOD:/glob" items, for the
// startup log.
func (p *PublicRoutes) Items() []string {
	if p == nil {
		return nil
	}

	var items []string
	for _, set := range p.sets {
		items = append(items, set.Items()...)
	}
	return items
}
