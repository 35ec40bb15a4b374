package kafkabus

import (
	"context"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kgo"
)

// slogLogger adapts slog to franz-go's logger. franz-go logs the client's
// internals: a line per failed dial or request, so an outage becomes a
// line every few milliseconds. The bus logs what an application needs
// itself (the first failure of an outage, its end, the breaker's
// transitions), so franz-go's lines are passed on only when the handler
// enables debug, and then all of them. The level is also what franz-go
// checks before building a message, so it builds none nobody reads.
type slogLogger struct{ l *slog.Logger }

func (s slogLogger) Level() kgo.LogLevel {
	if s.l.Enabled(context.Background(), slog.LevelDebug) {
		return kgo.LogLevelDebug
	}
	return kgo.LogLevelNone
}

func (s slogLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	lvl := slog.LevelDebug
	switch level {
	case kgo.LogLevelError:
		lvl = slog.LevelError
	case kgo.LogLevelWarn:
		lvl = slog.LevelWarn
	case kgo.LogLevelInfo:
		lvl = slog.LevelInfo
	}
	s.l.Log(context.Background(), lvl, msg, append(keyvals, "component", "franz-go")...)
}
