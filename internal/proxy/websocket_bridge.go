package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

const (
	// closeGrace bounds the wait for a peer to reply to a close frame before
	// the proxy drops the TCP connection.
	closeGrace = 5 * time.Second

	// maxCloseReasonBytes is the room for text in a close frame: a control
	// frame carries at most 125 bytes, and the close code takes 2.
	maxCloseReasonBytes = 123
)

// bridge is the state of one relayed session.
type bridge struct {
	relay    *WebSocketRelay
	request  *http.Request
	session  WebSocketSession
	logger   *slog.Logger
	client   *endpoint
	upstream *endpoint
	summary  WebSocketSummary
}

// ending describes what ended a session: a close frame from one side, a
// lost connection, or a decision of the proxy.
type ending struct {
	closedBy Side
	code     int
	reason   string
	// source is the side whose close frame or failure ended the session,
	// nil when the proxy decided.
	source *endpoint
	// peer is the other side, which still needs a close frame. Nil when
	// the proxy decided, because then both sides get one.
	peer *endpoint
	// sourceClosed is true when source needs no close frame: the library
	// already sent one, or source's connection is gone.
	sourceClosed bool
}

func (b *bridge) run(ctx context.Context) {
	authMessage, rejection := b.admit(ctx)
	if rejection != nil {
		b.rejectClient(*rejection)
		return
	}

	if end := b.connectUpstream(ctx, authMessage); end != nil {
		b.rejectClient(*end)
		return
	}
	b.summary.UpstreamConnected = true

	b.relayMessages(ctx)
}

// end closes both connections, completes the summary and hands it to OnEnd.
func (b *bridge) end() {
	if b.client != nil {
		b.summary.MessagesToClient = b.client.messages.Load()
		b.summary.BytesToClient = b.client.bytes.Load()
		_ = b.client.conn.Close()
	}
	if b.upstream != nil {
		b.summary.MessagesToUpstream = b.upstream.messages.Load()
		b.summary.BytesToUpstream = b.upstream.bytes.Load()
		_ = b.upstream.conn.Close()
	}
	b.summary.Duration = time.Since(b.summary.Started)

	b.logger.Debug("websocket session ended",
		"closed_by", b.summary.ClosedBy,
		"close_code", b.summary.CloseCode,
		"close_reason", b.summary.CloseReason,
		"messages_to_upstream", b.summary.MessagesToUpstream,
		"messages_to_client", b.summary.MessagesToClient,
		"duration", b.summary.Duration)
	if b.session.OnEnd != nil {
		b.session.OnEnd(b.summary)
	}
}

// rejectClient ends a session that never reached the relay phase.
func (b *bridge) rejectClient(end ending) {
	b.record(end)
	if end.closedBy != SideProxy || end.sourceClosed {
		return
	}
	b.logger.Debug("websocket client rejected", "close_code", end.code, "close_reason", end.reason)
	b.client.closeAndDrain(end.code, end.reason)
}

// record stores end in the summary unless an earlier ending is stored.
func (b *bridge) record(end ending) {
	if b.summary.ClosedBy != "" {
		return
	}
	b.summary.ClosedBy = end.closedBy
	b.summary.CloseCode = end.code
	b.summary.CloseReason = truncateCloseReason(end.reason)
}

// relayMessages pumps messages both ways until either side closes, a check
// fails or ctx ends.
func (b *bridge) relayMessages(ctx context.Context) {
	b.prepareRelay(b.client, b.upstream)
	b.prepareRelay(b.upstream, b.client)

	// Each pump sends exactly one ending. The buffer lets a pump finish
	// while the coordinator is busy with a check.
	endings := make(chan ending, 2)
	var pumps sync.WaitGroup
	pumps.Add(2)
	go func() {
		defer pumps.Done()
		endings <- b.pump(b.client, b.upstream)
	}()
	go func() {
		defer pumps.Done()
		endings <- b.pump(b.upstream, b.client)
	}()

	first, received := b.awaitEnding(ctx, endings)
	b.record(first)
	b.closeBoth(first)
	b.awaitPumps(endings, 2-received)
	pumps.Wait()
}

// prepareRelay sets src's limits and control-frame handlers for the relay
// phase: pings and pongs from src go to dst, and the coordinator, not the
// library, replies to close frames.
func (b *bridge) prepareRelay(src, dst *endpoint) {
	// No read deadline, because the endpoints detect a silent peer
	// themselves: Prefect's server (uvicorn defaults, set through
	// PREFECT_SERVER_API_WEBSOCKET_PING_*) pings every 20 s and closes after
	// 20 s without a pong, and those pings pass through. An idle deadline
	// below about 40 s would cut healthy sessions.
	_ = src.conn.SetReadDeadline(time.Time{})
	src.conn.SetReadLimit(b.relay.options.MaxMessageBytes)

	// A control frame that cannot be forwarded is dropped. If dst is gone,
	// its pump reports that.
	src.conn.SetPingHandler(func(data string) error {
		_ = dst.writeControl(websocket.PingMessage, []byte(data))
		return nil
	})
	src.conn.SetPongHandler(func(data string) error {
		_ = dst.writeControl(websocket.PongMessage, []byte(data))
		return nil
	})
	src.conn.SetCloseHandler(func(int, string) error { return nil })
}

// pump copies data messages from src to dst until reading or writing fails.
func (b *bridge) pump(src, dst *endpoint) ending {
	for {
		messageType, data, err := src.conn.ReadMessage()
		if err != nil {
			return readEnding(src, dst, err, b.relay.options.MaxMessageBytes)
		}
		if err := dst.write(messageType, data); err != nil {
			// dst is gone. Its own pump usually reports that first.
			return ending{closedBy: dst.side, code: websocket.CloseAbnormalClosure, source: dst, peer: src, sourceClosed: true}
		}
	}
}

// readEnding turns a read error from src into an ending. peer may be nil
// before the upstream is connected.
func readEnding(src, peer *endpoint, err error, limit int64) ending {
	var closeErr *websocket.CloseError
	switch {
	case errors.As(err, &closeErr):
		sourceClosed := closeErr.Code == websocket.CloseAbnormalClosure
		return ending{closedBy: src.side, code: closeErr.Code, reason: closeErr.Text, source: src, peer: peer, sourceClosed: sourceClosed}
	case errors.Is(err, websocket.ErrReadLimit):
		// The library has already sent src a 1009 close frame.
		reason := fmt.Sprintf("message larger than %d bytes", limit)
		return ending{closedBy: SideProxy, code: websocket.CloseMessageTooBig, reason: reason, source: src, peer: peer, sourceClosed: true}
	default:
		return ending{closedBy: src.side, code: websocket.CloseAbnormalClosure, source: src, peer: peer, sourceClosed: true}
	}
}

// awaitEnding waits for the first pump to end, a failed check or the end
// of ctx. It returns the ending and how many pump endings it consumed.
func (b *bridge) awaitEnding(ctx context.Context, endings <-chan ending) (ending, int) {
	var ticks <-chan time.Time
	if b.session.Check != nil {
		ticker := time.NewTicker(b.relay.options.CheckInterval)
		defer ticker.Stop()
		ticks = ticker.C
	}

	for {
		select {
		case end := <-endings:
			return end, 1
		case <-ctx.Done():
			return *proxyEnding(websocket.CloseGoingAway, "proxy closed the connection"), 0
		case <-ticks:
			if err := b.check(ctx); err != nil {
				b.logger.Info("websocket session closed: credential check failed", "error", err)
				return *proxyEnding(websocket.ClosePolicyViolation, err.Error()), 0
			}
		}
	}
}

func (b *bridge) check(ctx context.Context) error {
	checkCtx, cancel := context.WithTimeout(ctx, b.relay.options.CheckInterval)
	defer cancel()
	return b.session.Check(checkCtx)
}

// closeBoth sends the close frames that end calls for: a reply to the side
// that closed and the same close to the other side, or the proxy's close to
// both.
func (b *bridge) closeBoth(end ending) {
	if end.source == nil {
		_ = b.client.sendClose(end.code, end.reason)
		_ = b.upstream.sendClose(end.code, end.reason)
		return
	}

	if !end.sourceClosed {
		_ = end.source.sendClose(end.code, "")
	}
	code, reason := forwardedClose(end, end.peer.side)
	_ = end.peer.sendClose(code, reason)
}

// forwardedClose returns the close code and reason to send to side for
// end. Code 1006 only describes a lost connection and must not be sent in a
// frame.
func forwardedClose(end ending, side Side) (int, string) {
	if end.code != websocket.CloseAbnormalClosure {
		return end.code, end.reason
	}
	if side == SideClient {
		return websocket.CloseInternalServerErr, "upstream connection lost"
	}
	return websocket.CloseGoingAway, "client connection lost"
}

// awaitPumps waits for the remaining pumps, which end once their peers
// reply to the close frames. The connections of a peer that sends no reply
// within closeGrace are closed.
func (b *bridge) awaitPumps(endings <-chan ending, remaining int) {
	grace := time.NewTimer(closeGrace)
	defer grace.Stop()

	for remaining > 0 {
		select {
		case <-endings:
			remaining--
		case <-grace.C:
			_ = b.client.conn.Close()
			_ = b.upstream.conn.Close()
		}
	}
}

// proxyEnding is an ending decided by the proxy.
func proxyEnding(code int, reason string) *ending {
	return &ending{closedBy: SideProxy, code: code, reason: reason}
}

// endpoint is one of the two connections of a session. Gorilla allows one
// concurrent writer of data messages per connection, and WriteControl may
// run concurrently with it.
type endpoint struct {
	side         Side
	conn         *websocket.Conn
	writeTimeout time.Duration

	writeMu sync.Mutex
	// messages and bytes count the data messages written to this side.
	messages atomic.Int64
	bytes    atomic.Int64
}

// write sends one data message.
func (e *endpoint) write(messageType int, data []byte) error {
	e.writeMu.Lock()
	defer e.writeMu.Unlock()

	_ = e.conn.SetWriteDeadline(time.Now().Add(e.writeTimeout))
	if err := e.conn.WriteMessage(messageType, data); err != nil {
		return err
	}
	e.messages.Add(1)
	e.bytes.Add(int64(len(data)))
	return nil
}

// writeControl sends a ping, pong or close frame. It may run concurrently
// with write.
func (e *endpoint) writeControl(messageType int, data []byte) error {
	return e.conn.WriteControl(messageType, data, time.Now().Add(e.writeTimeout))
}

// sendClose sends a close frame with code and reason, the reason cut to fit.
func (e *endpoint) sendClose(code int, reason string) error {
	return e.writeControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, truncateCloseReason(reason)))
}

// closeAndDrain sends a close frame and reads until the peer replies or
// closeGrace passes, so the close frame is not lost to a TCP reset.
func (e *endpoint) closeAndDrain(code int, reason string) {
	if err := e.sendClose(code, reason); err != nil {
		return
	}

	_ = e.conn.SetReadDeadline(time.Now().Add(closeGrace))
	for {
		// The library panics after 1000 reads of a failed connection, so
		// the first error ends the loop.
		if _, _, err := e.conn.NextReader(); err != nil {
			return
		}
	}
}

// truncateCloseReason cuts reason to the room of a close frame at a UTF-8
// character boundary.
func truncateCloseReason(reason string) string {
	if len(reason) <= maxCloseReasonBytes {
		return reason
	}
	cut := maxCloseReasonBytes
	for cut > 0 && !utf8.RuneStart(reason[cut]) {
		cut--
	}
	return reason[:cut]
}
