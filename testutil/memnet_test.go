package testutil

import (
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

func TestMemNetwork(t *testing.T) {
	var n MemNetwork
	a, b := n.NewTransport(), n.NewTransport()
	if a.Addr() == b.Addr() {
		t.Fatalf("two transports share %s", a.Addr())
	}

	// A packet arrives, from the sender's address.
	if _, err := a.WriteToAddress([]byte("hi"), memberlist.Address{Addr: b.Addr()}); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-b.PacketCh():
		if string(p.Buf) != "hi" || p.From.String() != a.Addr() {
			t.Errorf("packet %q from %s", p.Buf, p.From)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("packet lost")
	}

	// A dial is answered on the stream channel.
	go func() {
		c := <-b.StreamCh()
		_, _ = c.Write([]byte("x"))
		_ = c.Close()
	}()
	c, err := a.DialAddressTimeout(memberlist.Address{Addr: b.Addr()}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1)
	if _, err := c.Read(buf); err != nil || buf[0] != 'x' {
		t.Errorf("read %q, %v", buf, err)
	}
	_ = c.Close()

	// Once b is gone, packets to it are dropped without blocking, dials
	// fail, and its address can be taken again.
	_ = b.Shutdown()
	for i := 0; i < 2*memPacketQueue; i++ {
		_, _ = a.WriteToAddress([]byte("lost"), memberlist.Address{Addr: b.Addr()})
	}
	if _, err := a.DialAddressTimeout(memberlist.Address{Addr: b.Addr()}, time.Second); err == nil {
		t.Errorf("dial to a transport that is gone succeeded")
	}
	if _, err := n.NewTransportAt(a.Addr()); err == nil {
		t.Errorf("an address in use was handed out again")
	}
	if _, err := n.NewTransportAt(b.Addr()); err != nil {
		t.Errorf("address of a transport that is gone: %v", err)
	}
}
