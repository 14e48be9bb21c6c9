package config

import (
	"fmt"
	"strings"
)

// Problem is one invalid or missing setting.
type Problem struct {
	// Setting is the environment variable, e.g. "PORT".
	Setting string
	// Flag is the flag name without dashes, e.g. "port".
	Flag string
	// Value is the offending value, "***" for a secret and with any password
	// in a URL replaced. It is empty for a missing setting.
	Value string
	// Source is the origin of the value, e.g. "the environment", "flag --port"
	// or "env file .env line 3". It is empty for a missing setting.
	Source string
	// Reason is the explanation of what is wrong and how to fix it.
	Reason string
}

// Error formats the problem as one line that names the setting, its flag, the
// value and where it came from.
func (p Problem) Error() string {
	name := p.Setting
	if p.Flag != "" {
		name += " (--" + p.Flag + ")"
	}
	if p.Source == "" {
		return name + " " + p.Reason
	}
	return fmt.Sprintf("invalid %s %q from %s: %s", name, p.Value, p.Source, p.Reason)
}

// ValidationError lists every problem Load found, in settings table order.
type ValidationError struct {
	Problems []Problem
}

// Error lists all problems, one per line after the first.
func (e *ValidationError) Error() string {
	if len(e.Problems) == 1 {
		return "invalid configuration: " + e.Problems[0].Error()
	}

	var b strings.Builder
	fmt.Fprintf(&b, "invalid configuration (%d problems):", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p.Error())
	}
	return b.String()
}

// Unwrap returns the problems, so errors.As finds a Problem.
func (e *ValidationError) Unwrap() []error {
	errs := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		errs[i] = p
	}
	return errs
}
