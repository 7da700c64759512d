package transport

import (
	"fmt"
	"io"
	"log"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/serfclone/serf/testutil"
)

func newLoopback(t *testing.T) *Transport {
	t.Helper()
	tr, err := New(Config{BindAddrs: []string{"127.0.0.1"}, Logger: log.New(io.Discard, "", 0)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Shutdown() })
	return tr
}

func (t *Transport) addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(t.Port()))
}

// TestPacketBufferIsItsOwnSize: what memberlist gets holds the datagram
// and nothing more, so it does not pin a 64 KiB buffer per packet.
func TestPacketBufferIsItsOwnSize(t *testing.T) {
	a, b := newLoopback(t), newLoopback(t)
	for _, size := range []int{1, 57, 1400, 9000} {
		msg := make([]byte, size)
		for i := range msg {
			msg[i] = byte(i)
		}
		if _, err := a.WriteTo(msg, b.addr()); err != nil {
			t.Fatal(err)
		}
		select {
		case p := <-b.PacketCh():
			if len(p.Buf) != size || cap(p.Buf) != size {
				t.Errorf("%d-byte datagram arrived with len %d cap %d", size, len(p.Buf), cap(p.Buf))
			}
			for i := range p.Buf {
				if p.Buf[i] != byte(i) {
					t.Fatalf("%d-byte datagram: byte %d is %d", size, i, p.Buf[i])
				}
			}
			if p.From.String() != a.addr() {
				t.Errorf("from %s, want %s", p.From, a.addr())
			}
			if p.Timestamp.IsZero() {
				t.Error("no time stamp")
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%d-byte datagram never arrived", size)
		}
	}
}

// TestReusedReadBufferDoesNotLeak: two datagrams read back to back keep
// their own bytes.
func TestReusedReadBufferDoesNotLeak(t *testing.T) {
	a, b := newLoopback(t), newLoopback(t)
	if _, err := a.WriteTo([]byte("first-long-message"), b.addr()); err != nil {
		t.Fatal(err)
	}
	if _, err := a.WriteTo([]byte("2nd"), b.addr()); err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) < 2 {
		select {
		case p := <-b.PacketCh():
			got = append(got, string(p.Buf))
		case <-time.After(10 * time.Second):
			t.Fatalf("got %q only", got)
		}
	}
	if got[0] != "first-long-message" || got[1] != "2nd" {
		t.Errorf("got %q", got)
	}
}

func TestStreamsReachStreamCh(t *testing.T) {
	a, b := newLoopback(t), newLoopback(t)
	conn, err := a.DialAddressTimeout(memberlist.Address{Addr: b.addr(), Name: "b"}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	select {
	case in := <-b.StreamCh():
		defer in.Close()
		buf := make([]byte, 5)
		_ = in.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(in, buf); err != nil || string(buf) != "hello" {
			t.Errorf("read %q, %v", buf, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no stream accepted")
	}
}

func TestFinalAdvertiseAddr(t *testing.T) {
	tr := newLoopback(t)
	cases := []struct {
		name     string
		ip       string
		port     int
		wantIP   string
		wantPort int
		wantErr  bool
	}{
		{"explicit IPv4", "10.1.2.3", 8000, "10.1.2.3", 8000, false},
		{"explicit IPv6", "fd00::1", 8001, "fd00::1", 8001, false},
		{"bound address and port", "", 0, "127.0.0.1", tr.Port(), false},
		{"not an address", "not-an-ip", 1, "", 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ip, port, err := tr.FinalAdvertiseAddr(tc.ip, tc.port)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("got %s:%d, want an error", ip, port)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ip.String() != tc.wantIP || port != tc.wantPort {
				t.Errorf("got %s:%d, want %s:%d", ip, port, tc.wantIP, tc.wantPort)
			}
			if tc.wantIP == "10.1.2.3" && len(ip) != net.IPv4len {
				t.Errorf("IPv4 advertised in %d bytes", len(ip))
			}
		})
	}
}

func TestBadConfig(t *testing.T) {
	cases := []Config{
		{},
		{BindAddrs: []string{"localhost"}},
	}
	for _, c := range cases {
		c.Logger = log.New(io.Discard, "", 0)
		if tr, err := New(c); err == nil {
			_ = tr.Shutdown()
			t.Errorf("New(%+v) worked, want an error", c)
		}
	}
}

func TestPortInUse(t *testing.T) {
	a := newLoopback(t)
	_, err := New(Config{BindAddrs: []string{"127.0.0.1"}, BindPort: a.Port(), Logger: log.New(io.Discard, "", 0)})
	if err == nil {
		t.Fatal("bound a port already in use")
	}
}

// TestShutdownEndsLoops: Shutdown returns once the loops have ended, and
// can be called again.
func TestShutdownEndsLoops(t *testing.T) {
	tr, err := New(Config{BindAddrs: []string{"127.0.0.1"}, Logger: log.New(io.Discard, "", 0)})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		_ = tr.Shutdown()
		_ = tr.Shutdown()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown did not return")
	}
}

// TestMemberlistRunsOnIt joins two memberlist nodes over the transport.
func TestMemberlistRunsOnIt(t *testing.T) {
	var lists []*memberlist.Memberlist
	for i := 0; i < 2; i++ {
		tr := newLoopback(t)
		c := memberlist.DefaultLocalConfig()
		c.Name = "node-" + strconv.Itoa(i)
		c.Transport = tr
		c.BindAddr = "127.0.0.1"
		c.BindPort = tr.Port()
		c.AdvertisePort = tr.Port()
		c.LogOutput = io.Discard
		m, err := memberlist.Create(c)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = m.Shutdown() })
		lists = append(lists, m)
	}
	if _, err := lists[1].Join([]string{lists[0].LocalNode().Address()}); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 20*time.Second, func() error {
		for _, m := range lists {
			if n := m.NumMembers(); n != 2 {
				return fmt.Errorf("%s sees %d members", m.LocalNode().Name, n)
			}
		}
		return nil
	})
}
