package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// readyTimeout bounds the wait for a started server to respond to HTTP.
const readyTimeout = 15 * time.Second

// stopTimeout is how long a server gets to exit after SIGTERM before it is
// killed.
const stopTimeout = 5 * time.Second

// process is a server started by the load test.
type process struct {
	name    string
	command *exec.Cmd
	exited  chan struct{}
	waitErr error
}

// startProcess starts a server with its output appended to logPath. The
// server gets SIGTERM when ctx ends or stop is called.
func startProcess(ctx context.Context, name, logPath string, environ []string, binary string, args ...string) (*process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}

	command := exec.CommandContext(ctx, binary, args...)
	command.Env = environ
	command.Stdout = logFile
	command.Stderr = logFile
	command.Cancel = func() error { return command.Process.Signal(syscall.SIGTERM) }
	command.WaitDelay = stopTimeout

	if err := command.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, command: command, exited: make(chan struct{})}
	go func() {
		p.waitErr = command.Wait()
		logFile.Close()
		close(p.exited)
	}()
	return p, nil
}

// waitReady polls url until the server responds with a status below 500,
// the process exits, or readyTimeout passes.
func (p *process) waitReady(ctx context.Context, url string) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(readyTimeout)

	for {
		response, err := client.Get(url)
		if err == nil {
			response.Body.Close()
			if response.StatusCode < 500 {
				return nil
			}
			err = fmt.Errorf("HTTP %d", response.StatusCode)
		}

		if time.Now().After(deadline) {
			return fmt.Errorf("wait for %s at %s: not ready after %s: %w", p.name, url, readyTimeout, err)
		}
		select {
		case <-p.exited:
			return fmt.Errorf("wait for %s at %s: process exited: %v", p.name, url, p.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: %w", p.name, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stop sends SIGTERM, waits for the exit, and kills the process after
// stopTimeout. It returns an error only when the process could not be
// signalled.
func (p *process) stop() error {
	select {
	case <-p.exited:
		return nil
	default:
	}

	if err := p.command.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop %s: %w", p.name, err)
	}
	select {
	case <-p.exited:
	case <-time.After(stopTimeout):
		_ = p.command.Process.Kill()
		<-p.exited
	}
	return nil
}

// freeLoopbackAddress returns a 127.0.0.1 address with a port that was free
// a moment ago. Another program may take the port before the server binds
// it, in which case the server fails to start and the run stops with its
// error.
func freeLoopbackAddress() (string, error) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	address := listener.Addr().String()
	if err := listener.Close(); err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	return address, nil
}
