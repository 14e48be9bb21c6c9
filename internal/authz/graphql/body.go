package graphql

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/authz"
)

// parseJSONBody reads a JSON body: one element object or a batch array.
func parseJSONBody(body []byte) (*Request, *RequestError) {
	body = trimSpace(body)
	if len(body) == 0 {
		return nil, badRequest(authz.ReasonRequestInvalid, "request body is empty")
	}
	if !json.Valid(body) {
		return nil, badRequest(authz.ReasonRequestInvalid, "request body is not valid JSON: %v", jsonSyntaxError(body))
	}

	switch body[0] {
	case '{':
		element := parseJSONElement(body)
		if element.Err != nil {
			return nil, element.Err
		}
		return &Request{Elements: []Element{element}}, nil
	case '[':
		return parseBatch(body)
	}

	return nil, badRequest(authz.ReasonRequestInvalid, "request body must be a JSON object or an array of objects")
}

// jsonSyntaxError explains why json.Valid rejected the body. It runs only on
// the error path, so decoding the body a second time costs nothing in the
// common case.
func jsonSyntaxError(body []byte) error {
	var value any
	err := json.Unmarshal(body, &value)

	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) {
		return fmt.Errorf("%w (at byte %d)", err, syntaxErr.Offset)
	}
	return err
}

func parseBatch(body []byte) (*Request, *RequestError) {
	raws := splitArray(body)
	if len(raws) == 0 {
		return nil, badRequest(authz.ReasonRequestInvalid, "batch array is empty")
	}

	req := &Request{Batch: true, Elements: make([]Element, len(raws))}
	for i, raw := range raws {
		if len(raw) == 0 || raw[0] != '{' {
			req.Elements[i] = Element{
				Raw: raw,
				Err: badRequest(authz.ReasonRequestInvalid, "batch element %d is not a JSON object", i),
			}
			continue
		}
		req.Elements[i] = parseJSONElement(raw)
	}
	return req, nil
}

// parseJSONElement reads one element object, whose text json.Valid has
// accepted. Keys are matched exactly and case-sensitively, as JavaScript
// reads them, and a key that matters and appears twice makes the element
// invalid: JSON.parse keeps the last value, and the decision must not
// depend on that detail. Unknown keys, extensions included, are ignored.
func parseJSONElement(raw []byte) Element {
	var (
		p                                 params
		seenQuery, seenName, seenVariable bool
	)

	err := eachMember(raw, func(key, value []byte) error {
		switch string(key) {
		case "query":
			if seenQuery {
				return duplicateKey("query")
			}
			seenQuery = true
			return decodeOptionalString(value, &p.query, "query")
		case "operationName":
			if seenName {
				return duplicateKey("operationName")
			}
			seenName = true
			return decodeOptionalString(value, &p.operationName, "operationName")
		case "variables":
			if seenVariable {
				return duplicateKey("variables")
			}
			seenVariable = true
			return variablesText(value, &p.variables)
		}
		return nil
	})

	if err != nil {
		var rerr *RequestError
		if !errors.As(err, &rerr) {
			rerr = badRequest(authz.ReasonRequestInvalid, "invalid request object: %v", err)
		}
		return Element{Raw: raw, Err: rerr}
	}

	element := newElement(p)
	element.Raw = raw
	return element
}

func duplicateKey(key string) *RequestError {
	return badRequest(authz.ReasonRequestInvalid, "key %q appears more than once in the request object", key)
}

// decodeOptionalString decodes a JSON string into target. A JSON null leaves
// target empty.
func decodeOptionalString(value []byte, target *string, key string) error {
	switch firstByte(value) {
	case 'n':
		return nil
	case '"':
		return json.Unmarshal(value, target)
	}
	return badRequest(authz.ReasonRequestInvalid, "%s must be a string", key)
}

// variablesText turns the variables member into JSON text for
// decodeVariables: an object as it is, and a string by its content, because
// Apollo Server 2 parses a string value as JSON.
func variablesText(value []byte, target *[]byte) error {
	switch firstByte(value) {
	case 'n':
		return nil
	case '{':
		*target = value
		return nil
	case '"':
		var text string
		if err := json.Unmarshal(value, &text); err != nil {
			return err
		}
		*target = []byte(text)
		return nil
	}
	return badRequest(authz.ReasonRequestInvalid, "variables must be a JSON object, a string that contains one, or null")
}

func firstByte(value []byte) byte {
	if len(value) == 0 {
		return 0
	}
	return value[0]
}
