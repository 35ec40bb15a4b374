package llmclient_test

import (
	"context"

	"github.com/huleedu/huleedu/event"
)

// nopBus accepts every publish.
type nopBus struct{}

func (nopBus) Publish(context.Context, string, string, *event.Envelope) error { return nil }
func (nopBus) Close(context.Context) error                                    { return nil }
