package workspace

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
)

// OpenLog sends structured logs to DATA/logs/sealkeeper.log (JSON lines, appended). Logs hold
// events and errors, never PINs, keys or document contents.
func OpenLog(dataDir string) (*slog.Logger, func(), error) {
	dir := filepath.Join(dataDir, "logs")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("making the log folder %s: %w", dir, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "sealkeeper.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("opening the log file: %w", err)
	}
	l := slog.New(slog.NewJSONHandler(f, &slog.HandlerOptions{Level: slog.LevelInfo}))
	return l, func() { f.Close() }, nil
}
