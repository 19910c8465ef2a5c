package main

import (
	"context"
	"errors"
	"io"
)

func bench(ctx context.Context, cfg config, out io.Writer) error {
	return errors.New("not yet")
}
