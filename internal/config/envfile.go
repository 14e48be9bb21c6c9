package config

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"
)

// envVar is one assignment read from an env file.
type envVar struct {
	Name  string
	Value string
	Line  int // 1-based line number in the file.
}

// maxEnvFileLine is the longest line an env file may have, in bytes. It is
// bufio.MaxScanTokenSize, the same limit docker run --env-file has.
const maxEnvFileLine = bufio.MaxScanTokenSize

// utf8BOM is the byte order mark some Windows editors put at a file's start.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// readEnvFile opens path and parses it with parseEnvFile.
func readEnvFile(path string, lookup func(name string) (string, bool)) ([]envVar, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read env file: %w", err)
	}
	defer f.Close()

	vars, err := parseEnvFile(f, lookup)
	if err != nil {
		return nil, fmt.Errorf("read env file %s: %w", path, err)
	}
	return vars, nil
}

// parseEnvFile parses an env file with the rules of docker run --env-file
// (docker/cli v28, package pkg/kvfile):
//
//   - The file must be valid UTF-8. A byte order mark at the start is removed.
//   - Leading white space is removed from every line. Trailing white space is
//     part of the value. Lines end in LF or CRLF.
//   - Empty lines and lines starting with "#" are skipped.
//   - A line is VAR=VALUE, split at the first "=". The value is used as it is:
//     no quote removal, no escapes, no ${VAR} expansion, no inline comments.
//   - A line with only VAR takes VAR's value from lookup, and is skipped when
//     lookup does not find it.
//   - VAR must not be empty or contain spaces or tabs.
//
// Unlike docker, parseEnvFile also rejects NUL bytes, which no environment
// variable can contain. A later line for the same VAR overrides an earlier
// one when the caller applies the result in order.
func parseEnvFile(r io.Reader, lookup func(name string) (string, bool)) ([]envVar, error) {
	var vars []envVar
	scanner := bufio.NewScanner(r)
	scanner.Buffer(make([]byte, 0, 4096), maxEnvFileLine)

	lineNumber := 0
	for scanner.Scan() {
		lineNumber++
		raw := scanner.Bytes()
		if lineNumber == 1 {
			raw = bytes.TrimPrefix(raw, utf8BOM)
		}

		v, ok, err := parseEnvLine(raw, lookup)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", lineNumber, err)
		}
		if ok {
			v.Line = lineNumber
			vars = append(vars, v)
		}
	}

	err := scanner.Err()
	if errors.Is(err, bufio.ErrTooLong) {
		return nil, fmt.Errorf("line %d is longer than %d bytes", lineNumber+1, maxEnvFileLine)
	}
	if err != nil {
		return nil, err
	}
	return vars, nil
}

// parseEnvLine parses one line without its line ending. ok is false for a
// blank line, a comment, or a VAR that lookup does not find.
func parseEnvLine(raw []byte, lookup func(name string) (string, bool)) (v envVar, ok bool, err error) {
	if !utf8.Valid(raw) {
		return envVar{}, false, errors.New("invalid UTF-8: save the file as UTF-8")
	}
	if bytes.IndexByte(raw, 0) >= 0 {
		return envVar{}, false, errors.New("contains a NUL byte")
	}

	line := strings.TrimLeftFunc(string(raw), unicode.IsSpace)
	if line == "" || line[0] == '#' {
		return envVar{}, false, nil
	}

	name, value, hasValue := strings.Cut(line, "=")
	if name == "" {
		return envVar{}, false, errors.New("no variable name before =")
	}
	if strings.ContainsAny(name, " \t") {
		// Quote only the first word, because without "=" the rest of the
		// line may be a value such as a password.
		first := strings.Fields(name)[0]
		return envVar{}, false, fmt.Errorf("variable name starting %q contains white space: write VAR=VALUE with no space before = and no export", first)
	}

	if hasValue {
		return envVar{Name: name, Value: value}, true, nil
	}
	if lookup == nil {
		return envVar{}, false, nil
	}
	value, found := lookup(name)
	if !found {
		return envVar{}, false, nil
	}
	return envVar{Name: name, Value: value}, true, nil
}
