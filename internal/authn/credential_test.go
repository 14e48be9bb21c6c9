package authn

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func b64(text string) string {
	return base64.StdEncoding.EncodeToString([]byte(text))
}

func TestFromRequest(t *testing.T) {
	const key = aliceSecret
	const other = bobSecret

	tests := []struct {
		name          string
		authorization string // "" leaves the header out
		userHeader    string // "" leaves the header out
		wantSecret    string
		wantUserID    string
		wantSource    Source
		wantMalformed bool
	}{
		{name: "no headers"},

		// Bearer.
		{name: "bearer", authorization: "Bearer " + key, wantSecret: key, wantSource: SourceBearer},
		{name: "bearer lowercase scheme", authorization: "bearer " + key, wantSecret: key, wantSource: SourceBearer},
		{name: "bearer uppercase scheme", authorization: "BEARER " + key, wantSecret: key, wantSource: SourceBearer},
		{name: "bearer extra spaces", authorization: "   Bearer    " + key + "   ", wantSecret: key, wantSource: SourceBearer},
		{name: "bearer tab", authorization: "Bearer\t" + key, wantSecret: key, wantSource: SourceBearer},
		{name: "bearer key with colon kept whole", authorization: "Bearer alice:" + key, wantSecret: "alice:" + key, wantSource: SourceBearer},
		{name: "bearer null", authorization: "Bearer null"},
		{name: "bearer NULL", authorization: "Bearer NULL"},
		{name: "bearer undefined", authorization: "Bearer undefined"},
		{name: "bearer without key", authorization: "Bearer "},
		{name: "bearer scheme only", authorization: "Bearer"},
		{name: "bearer two tokens", authorization: "Bearer " + key + " " + other, wantSource: SourceBearer, wantMalformed: true},
		{name: "bearer control character", authorization: "Bearer pap_a\x01b", wantSource: SourceBearer, wantMalformed: true},
		{name: "bearer too long", authorization: "Bearer " + strings.Repeat("k", MaxSecretLength+1), wantSource: SourceBearer, wantMalformed: true},
		{name: "bearer max length", authorization: "Bearer " + strings.Repeat("k", MaxSecretLength), wantSecret: strings.Repeat("k", MaxSecretLength), wantSource: SourceBearer},

		// Authorization values that mean nothing.
		{name: "authorization null", authorization: "null"},
		{name: "authorization undefined", authorization: "undefined"},
		{name: "authorization whitespace", authorization: " \t "},

		// Other schemes.
		{name: "unsupported scheme", authorization: "Token " + key, wantMalformed: true},
		{name: "key without scheme", authorization: key, wantMalformed: true},
		{name: "digest scheme", authorization: `Digest username="alice"`, wantMalformed: true},

		// Basic.
		{name: "basic key", authorization: "Basic " + b64(key), wantSecret: key, wantSource: SourceBasic},
		{name: "basic user and key", authorization: "Basic " + b64("alice:"+key), wantSecret: key, wantUserID: "alice", wantSource: SourceBasic},
		{name: "basic lowercase scheme", authorization: "basic " + b64("alice:"+key), wantSecret: key, wantUserID: "alice", wantSource: SourceBasic},
		{name: "basic unpadded", authorization: "Basic " + strings.TrimRight(b64("alice:"+key+"x"), "="), wantSecret: key + "x", wantUserID: "alice", wantSource: SourceBasic},
		{name: "basic spaces around parts", authorization: "Basic " + b64(" alice : "+key+" "), wantSecret: key, wantUserID: "alice", wantSource: SourceBasic},
		{name: "basic split at first colon", authorization: "Basic " + b64("alice:pap_a:b"), wantSecret: "pap_a:b", wantUserID: "alice", wantSource: SourceBasic},
		{name: "basic leading colon is part of key", authorization: "Basic " + b64(":"+key), wantSecret: ":" + key, wantSource: SourceBasic},
		{name: "basic user without key", authorization: "Basic " + b64("alice:"), wantUserID: "alice", wantSource: SourceBasic},
		{name: "basic user with null key", authorization: "Basic " + b64("alice:null"), wantUserID: "alice", wantSource: SourceBasic},
		{name: "basic null", authorization: "Basic " + b64("null")},
		{name: "basic empty", authorization: "Basic "},
		{name: "basic invalid base64", authorization: "Basic !!not-base64!!", wantSource: SourceBasic, wantMalformed: true},
		{name: "basic invalid utf-8", authorization: "Basic " + b64("alice:\xff\xfe"), wantSource: SourceBasic, wantMalformed: true},
		{name: "basic key with space", authorization: "Basic " + b64("alice:pap_a b"), wantSource: SourceBasic, wantMalformed: true},
		{name: "basic user with control character", authorization: "Basic " + b64("ali\x00ce:"+key), wantSource: SourceBasic, wantMalformed: true},

		// X-Prefect-User-Id and the fallback order.
		{name: "user header", userHeader: key, wantSecret: key, wantSource: SourceUserIDHeader},
		{name: "user header trimmed", userHeader: "  " + key + " ", wantSecret: key, wantSource: SourceUserIDHeader},
		{name: "user header null", userHeader: "null"},
		{name: "user header undefined", userHeader: "undefined"},
		{name: "user header whitespace", userHeader: "   "},
		{name: "user header with space", userHeader: "pap_a b", wantSource: SourceUserIDHeader, wantMalformed: true},
		{name: "bearer wins over user header", authorization: "Bearer " + key, userHeader: other, wantSecret: key, wantSource: SourceBearer},
		{name: "basic wins over user header", authorization: "Basic " + b64(key), userHeader: other, wantSecret: key, wantSource: SourceBasic},
		{name: "bearer null falls back", authorization: "Bearer null", userHeader: key, wantSecret: key, wantSource: SourceUserIDHeader},
		{name: "authorization null falls back", authorization: "null", userHeader: key, wantSecret: key, wantSource: SourceUserIDHeader},
		{name: "basic null falls back", authorization: "Basic " + b64("null"), userHeader: key, wantSecret: key, wantSource: SourceUserIDHeader},
		{name: "both null", authorization: "Bearer null", userHeader: "null"},
		{name: "malformed authorization does not fall back", authorization: "Token " + other, userHeader: key, wantMalformed: true},
		{name: "basic user without key does not fall back", authorization: "Basic " + b64("alice:"), userHeader: key, wantUserID: "alice", wantSource: SourceBasic},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/graphql", nil)
			if tc.authorization != "" {
				r.Header.Set("Authorization", tc.authorization)
			}
			if tc.userHeader != "" {
				r.Header.Set("X-Prefect-User-ID", tc.userHeader)
			}

			cred := FromRequest(r)

			if cred.Secret() != tc.wantSecret {
				t.Errorf("Secret() = %q, want %q", cred.Secret(), tc.wantSecret)
			}
			if cred.UserID() != tc.wantUserID {
				t.Errorf("UserID() = %q, want %q", cred.UserID(), tc.wantUserID)
			}
			if cred.Source() != tc.wantSource {
				t.Errorf("Source() = %q, want %q", cred.Source(), tc.wantSource)
			}
			if got := cred.Err() != nil; got != tc.wantMalformed {
				t.Errorf("Err() = %v, want malformed %v", cred.Err(), tc.wantMalformed)
			}
			if tc.wantMalformed && !errors.Is(cred.Err(), ErrMalformed) {
				t.Errorf("Err() = %v, want it to wrap ErrMalformed", cred.Err())
			}
			wantPresent := tc.wantSecret != "" && !tc.wantMalformed
			if cred.Present() != wantPresent {
				t.Errorf("Present() = %v, want %v", cred.Present(), wantPresent)
			}
		})
	}
}

func TestFromRequestErrorOmitsInput(t *testing.T) {
	values := []string{
		"Token " + aliceSecret,
		aliceSecret + " " + bobSecret,
		"Bearer " + aliceSecret + " " + bobSecret,
		"Basic " + b64("alice:"+aliceSecret+" x"),
	}
	for _, value := range values {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", value)

		cred := FromRequest(r)

		if cred.Err() == nil {
			t.Fatalf("FromRequest(Authorization: %q).Err() = nil, want malformed", value)
		}
		if strings.Contains(cred.Err().Error(), aliceSecret) || strings.Contains(cred.Err().Error(), bobSecret) {
			t.Errorf("error %q contains a key", cred.Err())
		}
	}
}

func TestParseToken(t *testing.T) {
	const key = aliceSecret

	tests := []struct {
		token         string
		wantSecret    string
		wantUserID    string
		wantSource    Source
		wantMalformed bool
	}{
		{token: ""},
		{token: "   "},
		{token: "null"},
		{token: "undefined"},
		{token: key, wantSecret: key, wantSource: SourceToken},
		{token: " " + key + " ", wantSecret: key, wantSource: SourceToken},
		{token: "alice:" + key, wantSecret: key, wantUserID: "alice", wantSource: SourceToken},
		{token: ":" + key, wantSecret: ":" + key, wantSource: SourceToken},
		{token: "alice:", wantUserID: "alice", wantSource: SourceToken},
		{token: "alice:pap_a:b", wantSecret: "pap_a:b", wantUserID: "alice", wantSource: SourceToken},
		{token: "pap_a\x00b", wantSource: SourceToken, wantMalformed: true},
		{token: "pap_\xff", wantSource: SourceToken, wantMalformed: true},
		{token: strings.Repeat("k", MaxSecretLength+1), wantSource: SourceToken, wantMalformed: true},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%q", tc.token), func(t *testing.T) {
			cred := ParseToken(tc.token)

			if cred.Secret() != tc.wantSecret {
				t.Errorf("Secret() = %q, want %q", cred.Secret(), tc.wantSecret)
			}
			if cred.UserID() != tc.wantUserID {
				t.Errorf("UserID() = %q, want %q", cred.UserID(), tc.wantUserID)
			}
			if cred.Source() != tc.wantSource {
				t.Errorf("Source() = %q, want %q", cred.Source(), tc.wantSource)
			}
			if got := cred.Err() != nil; got != tc.wantMalformed {
				t.Errorf("Err() = %v, want malformed %v", cred.Err(), tc.wantMalformed)
			}
		})
	}
}

func TestMatchesUser(t *testing.T) {
	tests := []struct {
		cred   Credential
		userID string
		want   bool
	}{
		{cred: bearer(aliceSecret), userID: "alice", want: true},
		{cred: basic("", aliceSecret), userID: "alice", want: true},
		{cred: basic("alice", aliceSecret), userID: "alice", want: true},
		{cred: basic("alice", aliceSecret), userID: "bob", want: false},
		{cred: basic("Alice", aliceSecret), userID: "alice", want: false},
	}
	for _, tc := range tests {
		if got := tc.cred.MatchesUser(tc.userID); got != tc.want {
			t.Errorf("%v.MatchesUser(%q) = %v, want %v", tc.cred, tc.userID, got, tc.want)
		}
	}
}

func TestKeyPrefix(t *testing.T) {
	tests := []struct {
		secret string
		want   string
	}{
		{secret: "", want: ""},
		{secret: aliceSecret, want: "pap_alic…"},
		{secret: "abcdefghijklmnopqrst", want: "abcde…"}, // 20 characters show 5
		{secret: "abc", want: "…"},
		{secret: "äöüßäöüßäöüßäöüßäöüßäöüßäöüßäöüß", want: "äöüßäöüß…"},
	}
	for _, tc := range tests {
		cred := Credential{secret: tc.secret, source: SourceBearer}
		if got := cred.KeyPrefix(); got != tc.want {
			t.Errorf("KeyPrefix() of %q = %q, want %q", tc.secret, got, tc.want)
		}
	}
}

func TestCredentialString(t *testing.T) {
	tests := []struct {
		cred Credential
		want string
	}{
		{cred: Credential{}, want: "no credential"},
		{cred: bearer(aliceSecret), want: `bearer key "pap_alic…"`},
		{cred: basic("alice", aliceSecret), want: `basic key "pap_alic…" for user "alice"`},
		{cred: basic("alice", ""), want: `basic credential for user "alice" without a key`},
		{cred: ParseToken("Token"), want: `token key "T…"`},
		{cred: credentialFromAuthorization("Token x"), want: "malformed credential"},
		{cred: credentialFromAuthorization("Basic !!"), want: "malformed credential in basic"},
	}
	for _, tc := range tests {
		if got := tc.cred.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
}

// credentialFromAuthorization returns the credential of a request that
// carries only the given Authorization header.
func credentialFromAuthorization(value string) Credential {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", value)
	return FromRequest(r)
}

func TestCredentialOutputOmitsSecret(t *testing.T) {
	creds := []Credential{
		bearer(aliceSecret),
		basic("alice", aliceSecret),
		credentialFromAuthorization("Bearer " + aliceSecret),
		credentialFromAuthorization("Basic " + b64("alice:"+aliceSecret)),
		credentialFromAuthorization("Token " + aliceSecret),
		credentialFromAuthorization(aliceSecret),
		ParseToken("alice:" + aliceSecret),
		{secret: aliceSecret, source: SourceUserIDHeader},
	}
	identity := Identity{Key: validKey("alice", newFakeClock().Now()), credential: bearer(aliceSecret)}

	for _, cred := range creds {
		outputs := map[string]string{
			"String":   cred.String(),
			"GoString": cred.GoString(),
			"%v":       fmt.Sprintf("%v", cred),
			"%+v":      fmt.Sprintf("%+v", cred),
			"%#v":      fmt.Sprintf("%#v", cred),
			"Sprint":   fmt.Sprint(cred),
			"slice %v": fmt.Sprintf("%v", []Credential{cred}),
			"json log": logWith(slog.NewJSONHandler, "credential", cred),
			"text log": logWith(slog.NewTextHandler, "credential", cred),
		}
		for format, output := range outputs {
			if strings.Contains(output, aliceSecret) {
				t.Errorf("%s output of %s contains the secret: %s", format, cred.Source(), output)
			}
		}
	}

	identityOutputs := map[string]string{
		"String":   identity.String(),
		"%v":       fmt.Sprintf("%v", identity),
		"%+v":      fmt.Sprintf("%+v", identity),
		"%#v":      fmt.Sprintf("%#v", identity),
		"json log": logWith(slog.NewJSONHandler, "identity", identity),
		"text log": logWith(slog.NewTextHandler, "identity", identity),
	}
	for format, output := range identityOutputs {
		if strings.Contains(output, aliceSecret) {
			t.Errorf("%s output of identity contains the secret: %s", format, output)
		}
	}
}

func TestCredentialLogValue(t *testing.T) {
	output := logWith(slog.NewTextHandler, "credential", basic("alice", aliceSecret))

	for _, want := range []string{"credential.source=basic", "credential.key_prefix=pap_alic…", "credential.user_id=alice"} {
		if !strings.Contains(output, want) {
			t.Errorf("log output %q does not contain %q", output, want)
		}
	}
}

func logWith[H slog.Handler](newHandler func(w io.Writer, opts *slog.HandlerOptions) H, name string, value any) string {
	var buf bytes.Buffer
	slog.New(newHandler(&buf, nil)).Info("test", name, value)
	return buf.String()
}

// checkCredentialInvariants reports the properties every parsed credential
// has, whatever the input.
func checkCredentialInvariants(t *testing.T, cred Credential) {
	t.Helper()

	if cred.Err() != nil {
		if !errors.Is(cred.Err(), ErrMalformed) {
			t.Fatalf("Err() = %v, want it to wrap ErrMalformed", cred.Err())
		}
		if cred.Present() || cred.Secret() != "" {
			t.Fatalf("malformed credential carries a secret")
		}
	}

	secret := cred.Secret()
	if secret == "" {
		return
	}
	if len(secret) > MaxSecretLength || !utf8.ValidString(secret) {
		t.Fatalf("secret of %d bytes is too long or not UTF-8", len(secret))
	}
	if strings.IndexFunc(secret, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		t.Fatalf("secret %q contains whitespace or control characters", secret)
	}
	if isEmptyValue(secret) {
		t.Fatalf("secret %q is an empty value", secret)
	}

	// Fixed words in String's output are shorter than 32 characters, so a
	// longer secret can appear only if String leaks it or the user id
	// contains it.
	if len(secret) >= 32 && !strings.Contains(cred.UserID(), secret) {
		if strings.Contains(cred.String(), secret) || strings.Contains(fmt.Sprintf("%#v", cred), secret) {
			t.Fatalf("String or GoString output contains the secret")
		}
	}
}

func FuzzFromRequest(f *testing.F) {
	f.Add("Bearer "+aliceSecret, "")
	f.Add("bearer null", aliceSecret)
	f.Add("Basic "+b64("alice:"+aliceSecret), "null")
	f.Add("Basic "+b64(":x"), "")
	f.Add("Basic !!", aliceSecret)
	f.Add("Token x", "")
	f.Add("", "undefined")

	f.Fuzz(func(t *testing.T, authorization, userHeader string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header["Authorization"] = []string{authorization}
		r.Header[HeaderUserID] = []string{userHeader}

		cred := FromRequest(r)

		checkCredentialInvariants(t, cred)
		// A single-token header value of 32 or more bytes is longer than any
		// fixed word of the error messages, so finding it there is an echo.
		if err := cred.Err(); err != nil && len(authorization) >= 32 && !strings.ContainsFunc(authorization, unicode.IsSpace) {
			if strings.Contains(err.Error(), authorization) {
				t.Fatalf("error %q echoes the Authorization header", err)
			}
		}
	})
}

func FuzzParseToken(f *testing.F) {
	f.Add(aliceSecret)
	f.Add("alice:" + aliceSecret)
	f.Add(":x")
	f.Add("null")
	f.Add("a\x00b")

	f.Fuzz(func(t *testing.T, token string) {
		cred := ParseToken(token)

		checkCredentialInvariants(t, cred)
		if cred.Present() && cred.Source() != SourceToken {
			t.Fatalf("Source() = %q, want %q", cred.Source(), SourceToken)
		}
	})
}
