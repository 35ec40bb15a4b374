package main

import (
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/huleedu/huleedu/internal/drill"
)

// childCommandName is the hidden command the crash drill runs as its
// publisher process.
const childCommandName = "drill-publisher"

func (c *cli) childCommandCmd() *cobra.Command {
	return &cobra.Command{
		Use:    childCommandName,
		Short:  "the crash drill's publisher process (started by huleedu drill --crash-at)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
			return failed(drill.ServeChild(cmd.Context(), c.stdin, c.stdout, log))
		},
	}
}
