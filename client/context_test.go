package client

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

func TestClientFromConfigContext(t *testing.T) {
	t.Run("agent answers", func(t *testing.T) {
		addr := startScripted(t, func(a *scriptedConn) {
			a.handshake()
			h := a.request(nil)
			a.reply(h.Seq, "", &MembersResponse{Members: []Member{{Name: "m1"}}})
			a.waitClosed()
		})
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		c, err := ClientFromConfigContext(ctx, &Config{Addr: addr})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		cancel() // later requests are not bound by ctx
		if members, err := c.Members(); err != nil || len(members) != 1 {
			t.Fatalf("Members = %v, %v", members, err)
		}
	})

	t.Run("agent never answers the handshake", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		accepted := make(chan net.Conn, 1)
		go func() {
			defer close(accepted)
			if c, err := ln.Accept(); err == nil {
				accepted <- c
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		done := make(chan error, 1)
		go func() {
			c, err := ClientFromConfigContext(ctx, &Config{Addr: ln.Addr().String()})
			if c != nil {
				c.Close()
			}
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("err = %v, want the deadline", err)
			}
		case <-timeout():
			t.Fatal("ClientFromConfigContext did not return after its deadline")
		}
		ln.Close()
		if c, ok := <-accepted; ok {
			c.Close()
		}
	})
}
