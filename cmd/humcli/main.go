// Command humcli is humstack's command-line client; see package cli.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/humstack/humstack/internal/cli"
)

func main() {
	// Cancelling the context on SIGINT/SIGTERM lets watch end cleanly and a
	// multi-object command stop between objects.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
