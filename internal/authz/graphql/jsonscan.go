package graphql

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// The functions in this file walk JSON text that json.Valid has already
// accepted. They exist because encoding/json cannot visit the members of an
// object or the elements of an array without copying them, and because the
// proxy needs each batch element's original bytes as a subslice of the body.
// On text that is not valid JSON their results are unspecified, but they
// never read outside the slice.

// trimSpace removes JSON whitespace from both ends of data.
func trimSpace(data []byte) []byte {
	return bytes.Trim(data, " \t\r\n")
}

func skipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}

// skipValue returns the index just past the JSON value that starts at
// data[i].
func skipValue(data []byte, i int) int {
	if i >= len(data) {
		return i
	}

	switch data[i] {
	case '"':
		return skipString(data, i)
	case '{', '[':
		return skipContainer(data, i)
	}

	// A number or a literal (true, false, null) ends at the next delimiter.
	for i < len(data) {
		switch data[i] {
		case ',', ']', '}', ' ', '\t', '\r', '\n':
			return i
		}
		i++
	}
	return i
}

// skipString returns the index just past the JSON string whose opening quote
// is data[i].
func skipString(data []byte, i int) int {
	for i++; i < len(data); i++ {
		switch data[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
}

// skipContainer returns the index just past the object or array whose
// opening bracket is data[i].
func skipContainer(data []byte, i int) int {
	depth := 0
	for i < len(data) {
		switch data[i] {
		case '"':
			i = skipString(data, i)
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
		i++
	}
	return i
}

// splitArray returns the elements of a valid JSON array as subslices of
// data, without copying them.
func splitArray(data []byte) []json.RawMessage {
	data = trimSpace(data)
	if len(data) == 0 || data[0] != '[' {
		return nil
	}

	var elements []json.RawMessage
	i := skipSpace(data, 1)
	for i < len(data) && data[i] != ']' {
		end := skipValue(data, i)
		if end <= i {
			break // invalid JSON: stop rather than loop in place
		}
		elements = append(elements, json.RawMessage(data[i:end]))

		i = skipSpace(data, end)
		if i >= len(data) || data[i] != ',' {
			break
		}
		i = skipSpace(data, i+1)
	}
	return elements
}

// eachMember calls visit with the decoded key and the raw value of every
// member of a valid JSON object, in order, and stops at the first error.
func eachMember(data []byte, visit func(key, value []byte) error) error {
	data = trimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return nil
	}

	i := skipSpace(data, 1)
	for i < len(data) && data[i] == '"' {
		keyEnd := skipString(data, i)
		key, err := decodeKey(data[i:keyEnd])
		if err != nil {
			return err
		}

		i = skipSpace(data, keyEnd)
		i = skipSpace(data, i+1) // the colon
		valueEnd := skipValue(data, i)
		if err := visit(key, data[i:valueEnd]); err != nil {
			return err
		}

		i = skipSpace(data, valueEnd)
		if i >= len(data) || data[i] != ',' {
			break
		}
		i = skipSpace(data, i+1)
	}
	return nil
}

// decodeKey decodes a quoted JSON object key. A valid UTF-8 key without
// escapes, which is every key in practice, is returned as a subslice of
// quoted without copying. Other keys go through encoding/json, so that
// "\u0071uery" decodes to "query" as in JavaScript's JSON.parse, and
// invalid UTF-8 becomes U+FFFD as when Node.js decodes a body.
func decodeKey(quoted []byte) ([]byte, error) {
	if len(quoted) >= 2 && bytes.IndexByte(quoted, '\\') < 0 && utf8.Valid(quoted) {
		return quoted[1 : len(quoted)-1], nil
	}

	var key string
	err := json.Unmarshal(quoted, &key)
	return []byte(key), err
}
