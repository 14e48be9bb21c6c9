package scope

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Pattern is a compiled path glob, as used by route scope items, public
// routes and the REST route table. The zero Pattern matches nothing.
//
// A pattern is matched against a whole decoded request path:
//
//   - "*" matches any sequence of characters, "/" included, and the empty
//     sequence. Consecutive "*" are the same as one.
//   - A pattern that ends in "/*" also matches the path without that
//     suffix, so "/api/flows/*" matches "/api/flows", "/api/flows/" and
//     "/api/flows/x/y".
//   - "{name}" as a whole segment matches exactly one non-empty segment
//     (no "/"), so route templates such as "/api/flows/{id}" are patterns.
//   - Every other character matches itself, case-sensitively.
//
// Patterns contain no percent-encoding: they are compared with the decoded
// path, so a path character that would need escaping is written as itself
// or covered by "*". The characters allowed are letters, digits, bytes of
// non-ASCII UTF-8 and - . _ ~ ! $ & ' ( ) * + ; = : @ / and the braces of
// a {name} segment. The comma is excluded because it separates scope items.
type Pattern struct {
	text  string
	exact glob
	// bare matches the path without the trailing "/*" of text. It has no
	// parts when text does not end in "/*".
	bare glob
}

// glob is a pattern split at its wildcards: parts[0] "*" parts[1] ... "*"
// parts[n]. A glob without parts matches nothing.
type glob struct {
	parts []part
}

// part is the text between two wildcards: literals and {name} parameters.
type part struct {
	tokens []token
	// fixed is set when the part has no parameter, so that its match length
	// is len(literal) of its single token.
	fixed bool
}

type token struct {
	literal string
	param   bool
}

// ErrPatternInvalid is the error that CompilePattern wraps.
var ErrPatternInvalid = errors.New("invalid path pattern")

// CompilePattern compiles a path glob that starts with "/". The error wraps
// ErrPatternInvalid and names the pattern and what is wrong with it.
func CompilePattern(text string) (Pattern, error) {
	if err := checkPattern(text); err != nil {
		return Pattern{}, fmt.Errorf("%w %q: %s", ErrPatternInvalid, text, err)
	}

	text = collapseWildcards(text)
	pattern := Pattern{text: text, exact: compileGlob(text)}
	if bare, ok := strings.CutSuffix(text, "/*"); ok && bare != "" {
		pattern.bare = compileGlob(bare)
	}
	return pattern, nil
}

// String returns the pattern's text, with consecutive "*" collapsed.
func (p *Pattern) String() string { return p.text }

// Match reports whether the pattern matches the whole path. It does not
// allocate, and it runs in O(len(path) × len(pattern)) time at most.
func (p *Pattern) Match(path string) bool {
	return p.exact.match(path) || p.bare.match(path)
}

// checkPattern returns why text is not a valid pattern, or nil.
func checkPattern(text string) error {
	if !strings.HasPrefix(text, "/") {
		return errors.New("must start with /")
	}
	if !utf8.ValidString(text) {
		return errors.New("is not valid UTF-8")
	}

	for i := 0; i < len(text); i++ {
		c := text[i]
		if c == '{' {
			end, err := checkParam(text, i)
			if err != nil {
				return err
			}
			i = end
			continue
		}
		if !isPatternByte(c) {
			return fmt.Errorf("contains %q, which patterns do not allow (they match the decoded path, and * covers any character)", rune(c))
		}
	}

	return checkSegments(text)
}

// checkParam checks the {name} segment that starts at text[open] and
// returns the index of its closing brace.
func checkParam(text string, open int) (int, error) {
	length := strings.IndexByte(text[open:], '}')
	if length < 0 {
		return 0, errors.New("has { without }")
	}
	end := open + length

	if !isName(text[open+1 : end]) {
		return 0, fmt.Errorf("has parameter %q, whose name is not letters, digits and _", text[open:end+1])
	}
	if text[open-1] != '/' || end+1 < len(text) && text[end+1] != '/' {
		return 0, fmt.Errorf("has parameter %q, which is not a whole segment", text[open:end+1])
	}
	return end, nil
}

// checkSegments rejects the segments that never occur in a clean request
// path, so that a pattern cannot look broader than what it matches: "." and
// ".." segments, and empty segments other than a trailing slash.
func checkSegments(text string) error {
	segments := strings.Split(text[1:], "/")
	for i, segment := range segments {
		switch {
		case segment == "." || segment == "..":
			return errors.New("has a . or .. segment")
		case segment == "" && i < len(segments)-1:
			return errors.New("has an empty segment (//)")
		}
	}
	return nil
}

func isPatternByte(c byte) bool {
	if isLetter(c) || isDigit(c) || c >= 0x80 {
		return true
	}
	return strings.IndexByte("-._~!$&'()*+;=:@/", c) >= 0
}

func collapseWildcards(text string) string {
	for strings.Contains(text, "**") {
		text = strings.ReplaceAll(text, "**", "*")
	}
	return text
}

// compileGlob splits a checked pattern text into parts and tokens.
func compileGlob(text string) glob {
	var g glob
	for _, piece := range strings.Split(text, "*") {
		g.parts = append(g.parts, compilePart(piece))
	}
	return g
}

func compilePart(text string) part {
	p := part{fixed: true}
	for text != "" {
		open := strings.IndexByte(text, '{')
		if open < 0 {
			p.tokens = append(p.tokens, token{literal: text})
			break
		}

		if open > 0 {
			p.tokens = append(p.tokens, token{literal: text[:open]})
		}
		p.tokens = append(p.tokens, token{param: true})
		p.fixed = false
		text = text[open+strings.IndexByte(text[open:], '}')+1:]
	}
	return p
}

// match reports whether the glob matches the whole path. The first part is
// anchored at the start and the last at the end. Each middle part is taken
// at its leftmost match, which is never worse than a later one: a later
// start never ends earlier, and the wildcard after the part absorbs any gap.
func (g *glob) match(path string) bool {
	n := len(g.parts)
	if n == 0 {
		return false
	}

	end, ok := g.parts[0].matchAt(path, 0)
	if !ok {
		return false
	}
	if n == 1 {
		return end == len(path)
	}

	for i := 1; i < n-1; i++ {
		end, ok = g.parts[i].find(path, end)
		if !ok {
			return false
		}
	}
	return g.parts[n-1].matchSuffix(path, end)
}

// matchAt matches the part at path[start:] and returns where it ends.
// A parameter takes the whole rest of its segment, because a pattern
// parameter is always followed by "/" or by the end of the pattern.
func (p *part) matchAt(path string, start int) (int, bool) {
	at := start
	for _, t := range p.tokens {
		if !t.param {
			if !strings.HasPrefix(path[at:], t.literal) {
				return 0, false
			}
			at += len(t.literal)
			continue
		}

		end := at
		for end < len(path) && path[end] != '/' {
			end++
		}
		if end == at {
			return 0, false
		}
		at = end
	}
	return at, true
}

// find returns the end of the leftmost match of the part in path[from:].
func (p *part) find(path string, from int) (int, bool) {
	for start := from; start <= len(path); start++ {
		if first := p.tokens[0]; !first.param {
			offset := strings.Index(path[start:], first.literal)
			if offset < 0 {
				return 0, false
			}
			start += offset
		}

		if end, ok := p.matchAt(path, start); ok {
			return end, true
		}
	}
	return 0, false
}

// matchSuffix reports whether the part matches path[start:] up to its end,
// starting at from or later.
func (p *part) matchSuffix(path string, from int) bool {
	if p.fixed {
		literal := ""
		if len(p.tokens) > 0 {
			literal = p.tokens[0].literal
		}
		return len(path)-from >= len(literal) && strings.HasSuffix(path, literal)
	}

	for start := from; start < len(path); start++ {
		if end, ok := p.matchAt(path, start); ok && end == len(path) {
			return true
		}
	}
	return false
}
