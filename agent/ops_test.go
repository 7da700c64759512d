package agent

import (
	"io"
	"log"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-metrics"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func TestNotifierSendsReady(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Skipf("cannot listen on a unix datagram socket: %v", err)
	}
	defer conn.Close()

	t.Setenv("NOTIFY_SOCKET", sock)
	n := NewNotifier()
	if !n.Enabled() {
		t.Fatal("notifier disabled with NOTIFY_SOCKET set")
	}
	for _, state := range []string{"READY=1", "STOPPING=1"} {
		if err := n.Notify(state); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64)
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		k, _, err := conn.ReadFromUnix(buf)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(buf[:k]); got != state {
			t.Errorf("received %q, want %q", got, state)
		}
	}

	t.Setenv("NOTIFY_SOCKET", "")
	if err := NewNotifier().Notify("READY=1"); err != nil {
		t.Errorf("notify without a socket: %v", err)
	}
}

func TestWatchdogInterval(t *testing.T) {
	cases := []struct {
		usec, pid string
		want      time.Duration
		err       bool
	}{
		{"", "", 0, false},
		{"2000000", "", time.Second, false},
		{"2000000", "1", 0, false}, // another process's watchdog
		{"bogus", "", 0, true},
	}
	for _, tc := range cases {
		t.Setenv("WATCHDOG_USEC", tc.usec)
		t.Setenv("WATCHDOG_PID", tc.pid)
		got, err := WatchdogInterval()
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("WATCHDOG_USEC=%q PID=%q: %v, %v", tc.usec, tc.pid, got, err)
		}
	}
}

func TestSyslogReachesLocalSocket(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	w, err := DialSyslogWriter("udp", pc.LocalAddr().String(), "local3", "INFO")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()

	lines := []string{
		"2026/11/27 00:00:00 [DEBUG] agent: filtered out\n",
		"2026/11/27 00:00:00 [WARN] serf: something odd\n",
	}
	for _, l := range lines {
		if _, err := w.Write([]byte(l)); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 1024)
	_ = pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	got := string(buf[:n])
	// LOCAL3 (19) * 8 + WARNING (4) = 156.
	if !strings.HasPrefix(got, "<156>") || !strings.Contains(got, "serf: something odd") || strings.Contains(got, "filtered") {
		t.Errorf("syslog datagram = %q", got)
	}
}

func TestPrometheusEndpoint(t *testing.T) {
	p, err := NewPrometheusServer("127.0.0.1:0", discardLog())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown()
	m, err := metrics.New(&metrics.Config{ServiceName: "serf-agent", EnableTypePrefix: false, FilterDefault: true}, p.Sink)
	if err != nil {
		t.Fatal(err)
	}
	m.SetGaugeWithLabels([]string{"serf", "members"}, 3, []metrics.Label{{Name: "status", Value: "alive"}})
	m.SetGaugeWithLabels([]string{"serf", "members"}, 1, []metrics.Label{{Name: "status", Value: "failed"}})

	resp, err := http.Get("http://" + p.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("scrape does not parse as Prometheus text: %v\n%s", err, body)
	}
	fam, ok := families["serf_agent_serf_members"]
	if !ok {
		t.Fatalf("no members gauge in:\n%s", body)
	}
	got := map[string]float64{}
	for _, metric := range fam.GetMetric() {
		for _, l := range metric.GetLabel() {
			if l.GetName() == "status" {
				got[l.GetValue()] = metric.GetGauge().GetValue()
			}
		}
	}
	if got["alive"] != 3 || got["failed"] != 1 {
		t.Errorf("members gauge = %v", got)
	}
}

func discardLog() *log.Logger { return log.New(io.Discard, "", 0) }
