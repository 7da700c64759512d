package client

import (
	"bytes"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/serfclone/serf/client/clienttest"
)

// addAgentSeeds seeds a fuzz target with everything the real agent sent
// in the recordings.
func addAgentSeeds(f *testing.F) {
	for _, name := range clienttest.Names() {
		tr, err := clienttest.Load(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(tr.AgentBytes())
	}
	f.Add([]byte{0xc1})
	f.Add([]byte{0x82, 0xa5, 'E', 'r', 'r', 'o', 'r', 0xa0, 0xa3, 'S', 'e', 'q', 0xdf, 0xff, 0xff, 0xff, 0xff})
}

// FuzzDecodeResponse feeds arbitrary agent bytes to the frame decoder: a
// header, then a body decoded into each reply type in turn. Decoding must
// fail cleanly, never panic.
func FuzzDecodeResponse(f *testing.F) {
	addAgentSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fr := newFrameReader(bytes.NewReader(data), newRPCHandle())
		bodies := []func() interface{}{
			func() interface{} { return new(MembersResponse) },
			func() interface{} { return new(map[string]map[string]string) },
			func() interface{} { return new(KeyResponse) },
			func() interface{} { return new(CoordinateResponse) },
			func() interface{} { return new(JoinResponse) },
			func() interface{} { return new(QueryRecord) },
			func() interface{} { return new(LogRecord) },
			func() interface{} { return new(map[string]interface{}) },
		}
		for i := 0; i < 64; i++ {
			if _, err := fr.header(); err != nil {
				return
			}
			if err := fr.body(bodies[i%len(bodies)]()); err != nil {
				return
			}
		}
	})
}

// FuzzReadLoop runs the client's reader goroutine and every kind of
// handler on arbitrary agent bytes. It must end cleanly: no panic, no
// goroutine left behind, every caller channel closed.
func FuzzReadLoop(f *testing.F) {
	addAgentSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		local, remote := net.Pipe()
		c := newClient(local, time.Second)

		var wg sync.WaitGroup
		drain := func(ch interface{}) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				switch ch := ch.(type) {
				case chan string:
					for range ch {
					}
				case chan map[string]interface{}:
					for range ch {
					}
				case chan NodeResponse:
					for range ch {
					}
				}
			}()
		}
		logs := make(chan string)
		events := make(chan map[string]interface{})
		acks := make(chan string)
		resps := make(chan NodeResponse)
		drain(logs)
		drain(events)
		drain(acks)
		drain(resps)

		// Seqs 1-6 are what the recordings use most.
		streams := []streamHandler{
			newMonitorHandler(logs),
			newEventStreamHandler(events),
			newQueryHandler(&QueryParam{AckCh: acks, RespCh: resps, DoneCh: make(chan error, 1)}),
		}
		for _, s := range streams {
			c.startPump(s.state())
		}
		c.mu.Lock()
		c.handlers[1] = newResponseHandler(HandshakeCommand, nil)
		c.handlers[2] = newResponseHandler(MembersFilteredCommand, new(MembersResponse))
		c.handlers[3] = streams[0]
		c.handlers[4] = streams[1]
		c.handlers[5] = streams[2]
		c.handlers[6] = newResponseHandler(ListKeysCommand, new(KeyResponse))
		c.mu.Unlock()

		go func() {
			remote.SetWriteDeadline(time.Now().Add(5 * time.Second))
			remote.Write(data)
			remote.Close()
		}()
		select {
		case <-c.readerDone:
		case <-time.After(10 * time.Second):
			t.Fatal("reader did not stop at the end of the input")
		}
		c.Close()
		wg.Wait()
	})
}
