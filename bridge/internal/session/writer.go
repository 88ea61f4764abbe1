package session

import (
	"context"
	"errors"
	"net"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// maxCloseReason is the longest close reason a close frame carries (RFC
// 6455: 125 bytes of payload, 2 of them the code).
const maxCloseReason = 123

// writeLoop is the connection's only writer of data frames. It writes every
// queued frame and then flushes once, pings the peer, and on the end of the
// session sends the close frame.
func (s *session) writeLoop(ctx context.Context) {
	ws := s.conn.ws
	ping := time.NewTicker(s.cfg.PingInterval)
	defer ping.Stop()
	for {
		// Once the session is closing nothing but the close frame goes
		// out: frames queued by calls that the close cancelled would only
		// report that cancellation, and select alone would pick between
		// them and the close at random. A shutdown instead queues a close
		// marker (a nil frame) behind the calls' terminal frames, so that
		// they go out before the close (see closeIfDrained).
		if ctx.Err() != nil {
			s.writeClose(context.Cause(ctx))
			return
		}
		select {
		case frame := <-s.queue:
			if err := s.writeBatch(ctx, frame); err != nil {
				s.writeFailed(err)
				return
			}
		case frame := <-s.events:
			if err := s.writeBatch(ctx, frame); err != nil {
				s.writeFailed(err)
				return
			}
		case <-ping.C:
			if err := ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(s.cfg.WriteTimeout)); err != nil {
				s.writeFailed(err)
				return
			}
		case <-ctx.Done():
			s.writeClose(context.Cause(ctx))
			return
		}
	}
}

// writeFailed ends the session after a failed write: the peer is gone or
// stopped reading for longer than WriteTimeout.
func (s *session) writeFailed(err error) {
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		s.stats.NoReadDisconnects.Add(1)
		s.logger.Info("closing a client that reads nothing", "no_read_timeout", s.cfg.WriteTimeout)
	} else {
		s.logger.Debug("write failed", "error", err)
	}
	s.cancel(errPeerGone)
	s.conn.ws.SetReadDeadline(time.Now()) // unblock the reader
}

// writeBatch writes frame and every frame queued behind it, then flushes.
// It stops early when the session starts closing.
func (s *session) writeBatch(ctx context.Context, frame []byte) error {
	ws := s.conn.ws
	if err := ws.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout)); err != nil {
		return err
	}
	s.conn.batch.begin()
	for ctx.Err() == nil {
		if frame == nil {
			s.cancel(errDrained) // the loop then sends the close frame
			break
		}
		s.metrics.bytesOut(len(frame))
		if err := ws.WriteMessage(websocket.TextMessage, frame); err != nil {
			s.conn.batch.end()
			return err
		}
		select {
		case frame = <-s.queue:
			continue
		case frame = <-s.events:
			continue
		default:
		}
		break
	}
	return s.conn.batch.end()
}

// writeClose tells the peer why the session ends, unless the peer left
// first, and gives it CloseGrace to answer before the reader stops.
func (s *session) writeClose(cause error) {
	ws := s.conn.ws
	s.sessionEnded() // before the close frame: a client that read it sees the session gone
	code, reason := websocket.CloseGoingAway, "the bridge is shutting down"
	var ce *closeError
	switch {
	case errors.Is(cause, errPeerGone):
		return
	case errors.As(cause, &ce):
		code, reason = ce.code, ce.reason
	}
	reason = truncate(reason, maxCloseReason)
	ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(s.cfg.WriteTimeout))
	ws.SetReadDeadline(time.Now().Add(s.cfg.CloseGrace))
}

// truncate shortens s to at most n bytes without splitting a character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
