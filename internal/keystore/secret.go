package keystore

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// SecretPrefix starts every key made by NewSecret, so a leaked key is easy
// to recognise in code, logs or secret scanners.
const SecretPrefix = "pap_"

// secretBytes is the number of random bytes in a new key: 256 bits.
const secretBytes = 32

// maxPrefixRunes is the largest number of characters Prefix shows.
const maxPrefixRunes = 8

// NewSecret returns a new random API key: SecretPrefix followed by 32 bytes
// from crypto/rand in unpadded base64url (43 characters).
func NewSecret() (string, error) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate api key: %w", err)
	}

	return SecretPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// Prefix returns the start of a secret followed by "…", for logs and
// messages. It shows at most 8 characters and at most a quarter of the
// secret, so a short hand-made key is not given away, and it replaces
// non-printable characters with '?'. Prefix of a new 47-character key is
// "pap_" plus 4 random characters.
func Prefix(secret string) string {
	n := min(maxPrefixRunes, utf8.RuneCountInString(secret)/4)

	var b strings.Builder
	for _, r := range secret {
		if n == 0 {
			break
		}
		n--

		if r == utf8.RuneError || !unicode.IsPrint(r) {
			r = '?'
		}
		b.WriteRune(r)
	}

	b.WriteString("…")

	return b.String()
}
