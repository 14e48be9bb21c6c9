package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// Close reasons that Prefect's server sends for the same cases. The proxy
// uses the same text so that clients report the same messages with or
// without the proxy in front.
const (
	reasonExpectedAuth = "Expected 'auth' message"
	reasonNoToken      = "Auth required but no token provided"
)

const (
	// authMessageLimit bounds the first message, which arrives before the
	// client is authenticated. An auth message is a type and a token of at
	// most a few hundred bytes.
	authMessageLimit = 64 << 10
)

// authMessage is the first message of the prefect subprotocol.
type authMessage struct {
	Type  string  `json:"type"`
	Token *string `json:"token"`
}

// admit authenticates the client. It returns the auth message to send
// upstream, nil in legacy mode, or the ending that rejects the client.
func (b *bridge) admit(ctx context.Context) ([]byte, *ending) {
	if b.summary.Subprotocol != PrefectSubprotocol {
		if !b.session.HeaderAuthenticated {
			return nil, proxyEnding(websocket.ClosePolicyViolation, "authentication required")
		}
		return nil, nil
	}

	token, end := b.readAuthToken()
	if end != nil {
		return nil, end
	}
	if b.session.HeaderAuthenticated {
		return b.relay.authMessage, nil
	}

	if token == "" {
		return nil, proxyEnding(websocket.ClosePolicyViolation, reasonNoToken)
	}
	if b.session.AuthenticateToken == nil {
		return nil, proxyEnding(websocket.ClosePolicyViolation, "authentication required")
	}
	if err := b.session.AuthenticateToken(ctx, token); err != nil {
		reason := err.Error()
		if strings.Contains(reason, token) {
			// The close reason reaches the client and the audit trail, where
			// the token must never appear.
			reason = "invalid token"
		}
		b.logger.Debug("websocket token rejected", "reason", reason)
		return nil, proxyEnding(websocket.ClosePolicyViolation, reason)
	}
	return b.relay.authMessage, nil
}

// readAuthToken reads the client's first message and returns its token,
// "" for a null or missing one.
func (b *bridge) readAuthToken() (string, *ending) {
	conn := b.client.conn
	conn.SetReadLimit(authMessageLimit)
	_ = conn.SetReadDeadline(time.Now().Add(b.relay.options.AuthTimeout))

	messageType, data, err := conn.ReadMessage()
	if err != nil {
		var netErr net.Error
		if errors.As(err, &netErr) && netErr.Timeout() {
			return "", proxyEnding(websocket.ClosePolicyViolation, "timed out waiting for 'auth' message")
		}
		end := readEnding(b.client, nil, err, authMessageLimit)
		return "", &end
	}

	if messageType != websocket.TextMessage {
		return "", proxyEnding(websocket.ClosePolicyViolation, reasonExpectedAuth)
	}
	token, err := parseAuthMessage(data)
	if errors.Is(err, errNotAuthMessage) {
		return "", proxyEnding(websocket.ClosePolicyViolation, reasonExpectedAuth)
	}
	if err != nil {
		return "", proxyEnding(websocket.ClosePolicyViolation, err.Error())
	}
	return token, nil
}

// Errors of parseAuthMessage. errTokenNotString's text is the close reason.
var (
	errNotAuthMessage = errors.New("not an auth message")
	errTokenNotString = errors.New("invalid token: not a string")
)

// parseAuthMessage returns the token of a prefect-subprotocol auth message,
// "" when it is null, missing or empty. Keys match exactly, as in Prefect's
// server, and a token that is not a string is invalid.
func parseAuthMessage(data []byte) (string, error) {
	var message map[string]any
	if err := json.Unmarshal(data, &message); err != nil {
		return "", errNotAuthMessage
	}
	if messageType, _ := message["type"].(string); messageType != "auth" {
		return "", errNotAuthMessage
	}

	switch token := message["token"].(type) {
	case nil:
		return "", nil
	case string:
		return token, nil
	default:
		return "", errTokenNotString
	}
}
