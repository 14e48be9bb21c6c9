package logging

import (
	"log/slog"
	"testing"
	"time"
)

func TestParseLevel(t *testing.T) {
	cases := map[string]slog.Level{
		"error": slog.LevelError, "WARN": slog.LevelWarn, "warning": slog.LevelWarn,
		"info": slog.LevelInfo, " debug ": slog.LevelDebug,
	}
	for input, want := range cases {
		got, err := ParseLevel(input)
		if err != nil {
			t.Fatalf("ParseLevel(%q): %v", input, err)
		}
		if got != want {
			t.Errorf("ParseLevel(%q) = %v, want %v", input, got, want)
		}
	}
	if _, err := ParseLevel("verbose"); err == nil {
		t.Error("ParseLevel(verbose): expected an error")
	}
}

func TestLevelOverrideRestores(t *testing.T) {
	level := NewLevel(slog.LevelWarn)
	defer level.Stop()

	level.Override(slog.LevelDebug, 20*time.Millisecond)
	if got := level.Level(); got != slog.LevelDebug {
		t.Fatalf("level after override = %v, want debug", got)
	}

	deadline := time.Now().Add(5 * time.Second)
	for level.Level() != slog.LevelWarn && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := level.Level(); got != slog.LevelWarn {
		t.Fatalf("level after the override ended = %v, want warn", got)
	}
}
