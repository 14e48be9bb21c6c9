package config

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func lookupFrom(env map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		value, ok := env[name]
		return value, ok
	}
}

func TestParseEnvFile(t *testing.T) {
	environment := map[string]string{"FROM_ENV": "env value", "EMPTY_IN_ENV": ""}

	cases := []struct {
		name  string
		input string
		want  []envVar
	}{
		{name: "empty file", input: "", want: nil},
		{name: "one variable", input: "A=1\n", want: []envVar{{"A", "1", 1}}},
		{name: "no final newline", input: "A=1", want: []envVar{{"A", "1", 1}}},
		{name: "comments and blank lines", input: "# comment\n\nA=1\n   \n\t# indented comment\nB=2\n", want: []envVar{{"A", "1", 3}, {"B", "2", 6}}},
		{name: "double quotes kept", input: `A="quoted value"`, want: []envVar{{"A", `"quoted value"`, 1}}},
		{name: "single quotes kept", input: `A='x'`, want: []envVar{{"A", `'x'`, 1}}},
		{name: "leading white space trimmed", input: "  \tA=1\n", want: []envVar{{"A", "1", 1}}},
		{name: "trailing white space kept", input: "A=1  \t\n", want: []envVar{{"A", "1  \t", 1}}},
		{name: "space after equals kept", input: "A= 1\n", want: []envVar{{"A", " 1", 1}}},
		{name: "equals in value", input: "A=b=c\n", want: []envVar{{"A", "b=c", 1}}},
		{name: "empty value", input: "A=\n", want: []envVar{{"A", "", 1}}},
		{name: "hash in value", input: "A=1 # not a comment\n", want: []envVar{{"A", "1 # not a comment", 1}}},
		{name: "no expansion", input: "A=${HOME}\\n\n", want: []envVar{{"A", "${HOME}\\n", 1}}},
		{name: "name only from environment", input: "FROM_ENV\n", want: []envVar{{"FROM_ENV", "env value", 1}}},
		{name: "name only empty in environment", input: "EMPTY_IN_ENV\n", want: []envVar{{"EMPTY_IN_ENV", "", 1}}},
		{name: "name only not in environment", input: "ABSENT\nA=1\n", want: []envVar{{"A", "1", 2}}},
		{name: "CRLF line endings", input: "A=1\r\nB=2\r\n", want: []envVar{{"A", "1", 1}, {"B", "2", 2}}},
		{name: "CRLF blank and comment lines", input: "\r\n# c\r\nA=1\r\n", want: []envVar{{"A", "1", 3}}},
		{name: "carriage return inside value", input: "A=1\r2\n", want: []envVar{{"A", "1\r2", 1}}},
		{name: "byte order mark", input: "\ufeffA=1\n", want: []envVar{{"A", "1", 1}}},
		{name: "duplicates kept in order", input: "A=1\nA=2\n", want: []envVar{{"A", "1", 1}, {"A", "2", 2}}},
		{name: "unicode value", input: "TENANT_NAME=Équipe données\n", want: []envVar{{"TENANT_NAME", "Équipe données", 1}}},
		{name: "lowercase name", input: "http_proxy=x\n", want: []envVar{{"http_proxy", "x", 1}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseEnvFile(strings.NewReader(tc.input), lookupFrom(environment))
			if err != nil {
				t.Fatalf("parseEnvFile: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestParseEnvFileNilLookup(t *testing.T) {
	got, err := parseEnvFile(strings.NewReader("FROM_ENV\nA=1\n"), nil)
	if err != nil {
		t.Fatalf("parseEnvFile: %v", err)
	}

	want := []envVar{{"A", "1", 2}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestParseEnvFileErrors(t *testing.T) {
	cases := []struct {
		name  string
		input string
		want  string // Part of the error message.
	}{
		{name: "no name", input: "A=1\n=2\n", want: "line 2: no variable name"},
		{name: "space in name", input: "A B=1\n", want: `line 1: variable name starting "A" contains white space`},
		{name: "space before equals", input: "A =1\n", want: "line 1: variable name"},
		{name: "export prefix", input: "export A=1\n", want: `starting "export"`},
		{name: "name and value without equals", input: "A value\n", want: `starting "A"`},
		{name: "invalid UTF-8", input: "A=1\nB=\xff\n", want: "line 2: invalid UTF-8"},
		{name: "NUL byte", input: "A=1\x002\n", want: "line 1: contains a NUL byte"},
		{name: "line too long", input: "A=1\nB=" + strings.Repeat("x", maxEnvFileLine) + "\n", want: "line 2 is longer than"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseEnvFile(strings.NewReader(tc.input), nil)
			if err == nil {
				t.Fatal("parseEnvFile accepted the input")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestParseEnvFileLongLineAccepted(t *testing.T) {
	value := strings.Repeat("x", maxEnvFileLine-10)

	got, err := parseEnvFile(strings.NewReader("A="+value+"\n"), nil)
	if err != nil {
		t.Fatalf("parseEnvFile: %v", err)
	}
	if len(got) != 1 || got[0].Value != value {
		t.Errorf("long value not returned whole")
	}
}

func FuzzParseEnvFile(f *testing.F) {
	seeds := []string{
		"",
		"A=1\n",
		"# comment\n\nA=1\r\nB=\"2\"\n",
		"\ufeffA=1",
		"  A=b=c  \n",
		"FROM_ENV\nABSENT\n",
		"=x\n",
		"A B=1\n",
		"A=\xff\n",
		"A=1\r\r\n",
		"A=\x00\n",
		"\n\n\r\n#\n",
	}
	for _, seed := range seeds {
		f.Add([]byte(seed))
	}

	lookup := lookupFrom(map[string]string{"FROM_ENV": "env value"})
	f.Fuzz(func(t *testing.T, input []byte) {
		vars, err := parseEnvFile(bytes.NewReader(input), lookup)
		if err != nil {
			return
		}

		lastLine := 0
		for _, v := range vars {
			checkEnvVar(t, v)
			if v.Line <= lastLine {
				t.Fatalf("line numbers not increasing: %d after %d", v.Line, lastLine)
			}
			lastLine = v.Line
		}

		checkRoundTrip(t, vars, lookup)
	})
}

func checkEnvVar(t *testing.T, v envVar) {
	t.Helper()
	if v.Name == "" {
		t.Fatal("empty name")
	}
	if strings.ContainsAny(v.Name, "= \t\n\x00") {
		t.Fatalf("name %q contains =, white space, newline or NUL", v.Name)
	}
	if first, _ := utf8.DecodeRuneInString(v.Name); unicode.IsSpace(first) || first == '#' {
		t.Fatalf("name %q starts with white space or #", v.Name)
	}
	if strings.ContainsAny(v.Value, "\n\x00") {
		t.Fatalf("value %q contains a newline or NUL", v.Value)
	}
	if !utf8.ValidString(v.Name) || !utf8.ValidString(v.Value) {
		t.Fatalf("invalid UTF-8 in %q=%q", v.Name, v.Value)
	}
}

// checkRoundTrip writes vars back as NAME=VALUE lines and parses them again.
// A leading comment line keeps a name that starts with a byte order mark
// away from line 1, where the mark would be removed.
func checkRoundTrip(t *testing.T, vars []envVar, lookup func(string) (string, bool)) {
	t.Helper()
	var b strings.Builder
	b.WriteString("#\n")
	var want []envVar
	for _, v := range vars {
		if strings.HasSuffix(v.Value, "\r") {
			// A final CR would be read as part of a CRLF line ending.
			continue
		}
		b.WriteString(v.Name + "=" + v.Value + "\n")
		want = append(want, envVar{Name: v.Name, Value: v.Value, Line: len(want) + 2})
	}

	got, err := parseEnvFile(strings.NewReader(b.String()), lookup)
	if err != nil {
		t.Fatalf("parsing written file: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip changed the variables:\ngot  %+v\nwant %+v", got, want)
	}
}
