package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/serfclone/serf/testutil"
)

// httpGet fetches url with an optional bearer token and returns the
// status and body.
func httpGet(t *testing.T, url, token string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestIntegrationHTTPAPI runs the daemon with -http-addr and rpc_auth:
// the token guards every path, /metrics is served there as well as on
// -metrics-addr, and a leave through the API ends the process cleanly.
func TestIntegrationHTTPAPI(t *testing.T) {
	httpAddr, metricsAddr := freeAddrs(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "auth.json")
	if err := os.WriteFile(conf, []byte(`{"rpc_auth": "tok3n", "http_addr": "`+httpAddr+`"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	a := startOpsAgent(t, "http-a", "-config-file="+conf, "-metrics-addr="+metricsAddr)
	base := "http://" + httpAddr

	if code, body := httpGet(t, base+"/v1/members", ""); code != http.StatusUnauthorized || !strings.Contains(body, `"error"`) {
		t.Errorf("without token: %d %s", code, body)
	}
	code, body := httpGet(t, base+"/v1/members", "tok3n")
	if code != http.StatusOK || !strings.Contains(body, `"name": "http-a"`) {
		t.Fatalf("members: %d %s", code, body)
	}
	testutil.WaitFor(t, 20*time.Second, func() error {
		if code, body := httpGet(t, base+"/v1/health", "tok3n"); code != http.StatusOK {
			return fmt.Errorf("health %d %s", code, body)
		}
		return nil
	})
	for _, url := range []string{base + "/metrics", "http://" + metricsAddr + "/metrics"} {
		testutil.WaitFor(t, 20*time.Second, func() error {
			code, body := httpGet(t, url, "tok3n")
			if code != http.StatusOK || !strings.Contains(body, "serf_agent_serf_members") {
				return fmt.Errorf("GET %s: %d %.200s", url, code, body)
			}
			return nil
		})
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/leave", nil)
	req.Header.Set("Authorization", "Bearer tok3n")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("leave: %s", resp.Status)
	}
	if code, err := a.proc.Wait(20 * time.Second); err != nil || code != 0 {
		t.Errorf("after an HTTP leave the agent exited %d (%v)", code, err)
	}
}

// chromiumPath finds Debian's headless-capable Chromium.
func chromiumPath() string {
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	return ""
}

// newBrowser starts headless Chromium with a fresh profile for at most
// timeout; it is stopped when the test ends.
func newBrowser(t *testing.T, chromium string, timeout time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf), chromedp.WithErrorf(t.Logf))
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
		cancel()
	})
	return browserCtx
}

// pageText returns the page's visible text (members, feed, forms'
// results), for the log of a failed step, within a short deadline so
// that a stuck page cannot hold the test.
func pageText(browserCtx context.Context) string {
	ctx, cancel := context.WithTimeout(browserCtx, 10*time.Second)
	defer cancel()
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	if err != nil {
		return fmt.Sprintf("(unreadable: %v)", err)
	}
	return text
}

// TestIntegrationBrowserPageWithToken: with rpc_auth set, a browser that
// signs in once (HTTP Basic, the token as password) gets the page, its
// API calls and its event stream.
func TestIntegrationBrowserPageWithToken(t *testing.T) {
	chromium := chromiumPath()
	if chromium == "" {
		t.Skip("no Chromium at /usr/bin/chromium (apt-get install -y chromium): skipping the browser test")
	}
	httpAddr := freeAddr(t)
	conf := filepath.Join(t.TempDir(), "auth.json")
	if err := os.WriteFile(conf, []byte(`{"rpc_auth": "tok3n"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	startOpsAgent(t, "tok-a", "-config-file="+conf, "-http-addr="+httpAddr)
	browserCtx := newBrowser(t, chromium, time.Minute)
	if err := chromedp.Do(browserCtx, chromedp.Navigate("http://operator:tok3n@"+httpAddr+"/")); err != nil {
		t.Fatalf("open the page: %v", err)
	}
	if _, err := chromedp.Run(browserCtx, chromedp.Poll[bool](
		`document.querySelectorAll('#members tbody tr[data-status="alive"]').length === 1 && `+
			`document.querySelector('#stream-state').textContent === 'live'`,
		chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		// The feed shows the page's own errors.
		feed, _ := chromedp.Run(browserCtx, chromedp.Evaluate[string](
			`document.querySelector('#stream-state').textContent + ' | ' + document.querySelector('#feed').textContent`))
		t.Fatalf("page with a token: %v (page: %s)", err, feed)
	}
}

// TestIntegrationBrowserPage drives the page in a real headless Chromium:
// three agents, the page of the first lists all three alive, a user
// event sent from its form shows in its feed, and the RTT map places the
// nodes. A screenshot lands in the test's temp dir.
func TestIntegrationBrowserPage(t *testing.T) {
	chromium := chromiumPath()
	if chromium == "" {
		t.Skip("no Chromium at /usr/bin/chromium (apt-get install -y chromium): skipping the browser test")
	}
	start := time.Now()
	httpAddr := freeAddr(t)
	a := startOpsAgent(t, "web-a", "-http-addr="+httpAddr, "-tag", "role=web")
	startOpsAgent(t, "web-b", "-join", a.bind, "-tag", "role=db")
	c := startOpsAgent(t, "web-c", "-join", a.bind)
	a.waitMember("web-b", "alive", 30*time.Second)
	a.waitMember("web-c", "alive", 30*time.Second)
	clusterReady := time.Since(start)

	// Generous bounds for a loaded 2-core machine: the whole run, and
	// each step's wait below.
	browserCtx := newBrowser(t, chromium, 5*time.Minute)
	page := "http://" + httpAddr + "/"
	// Each step's time is logged, to see where the test spends it.
	var timings []string
	last := time.Now()
	step := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("browser: %s after %v: %v\npage text:\n%s", what, time.Since(last).Round(time.Millisecond), err, pageText(browserCtx))
		}
		timings = append(timings, fmt.Sprintf("%s %v", what, time.Since(last).Round(time.Millisecond)))
		last = time.Now()
	}
	poll := func(what, expr string, timeout time.Duration) {
		t.Helper()
		_, err := chromedp.Run(browserCtx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(timeout)))
		step(what, err)
	}
	step("open the page", chromedp.Do(browserCtx, chromedp.Navigate(page)))
	poll("three alive members", `document.querySelectorAll('#members tbody tr[data-status="alive"]').length === 3`, 60*time.Second)
	alive, err := chromedp.Run(browserCtx,
		chromedp.Evaluate[int](`document.querySelectorAll('#members tbody tr[data-status="alive"]').length`))
	step("count members", err)
	step("send a user event", chromedp.Do(browserCtx,
		chromedp.WaitVisible(chromedp.CSS(`#stream-state.ok`)),
		chromedp.SetValue(chromedp.CSS(`#event-name`), "browser-deploy"),
		chromedp.SetValue(chromedp.CSS(`#event-payload`), "from-chromium"),
		chromedp.Click(chromedp.CSS(`#event-form button[type=submit]`)),
	))
	poll("the event in the feed",
		`[...document.querySelectorAll('#feed li')].some(li => li.textContent.includes('user browser-deploy'))`, 60*time.Second)
	feedText, err := chromedp.Run(browserCtx, chromedp.Text(chromedp.CSS(`#feed`)))
	step("read the feed", err)
	// The map shows every node once their coordinates are known;
	// hovering one estimates its RTT from this agent.
	poll("three nodes on the map", `document.querySelectorAll('#rtt-map circle').length === 3`, 60*time.Second)
	_, err = chromedp.Run(browserCtx, chromedp.Evaluate[bool](
		`document.querySelector('#rtt-map circle:not(.self)').dispatchEvent(new MouseEvent('mouseenter'))`))
	step("hover a node", err)
	mapInfo, err := chromedp.Run(browserCtx, chromedp.Text(chromedp.CSS(`#rtt-info`)))
	step("read the hover text", err)
	// The filter box narrows the table.
	step("filter members", chromedp.Do(browserCtx, chromedp.SendKeys(chromedp.CSS(`#member-filter`), "role=db")))
	poll("filtered table", `document.querySelectorAll('#members tbody tr').length === 1 && `+
		`document.querySelector('#members tbody tr').dataset.name === 'web-b'`, 30*time.Second)
	_, err = chromedp.Run(browserCtx, chromedp.Evaluate[bool](
		`(f => { f.value = ""; return f.dispatchEvent(new Event("input")) })(document.querySelector("#member-filter"))`))
	step("clear the filter", err)
	poll("unfiltered table", `document.querySelectorAll('#members tbody tr').length === 3`, 30*time.Second)

	// A query from the form lists the acks as they arrive, then the tally.
	// The timeout leaves a loaded machine time for every ack (the default
	// is 1.6s here). A query is gossiped best-effort, like every Serf
	// broadcast (the local profile sends it twice per node), so a node
	// may never hear it; then the page must still show the acks it got
	// and the matching tally, and the query is run again.
	step("fill the query form", chromedp.Do(browserCtx,
		chromedp.SetValue(chromedp.CSS(`#query-name`), "who"),
		chromedp.SetValue(chromedp.CSS(`#query-timeout`), "10s"),
		chromedp.Click(chromedp.CSS(`#query-ack`)),
	))
	const queryTries = 3
	for try := 1; ; try++ {
		step("run a query", chromedp.Do(browserCtx, chromedp.Click(chromedp.CSS(`#query-form button[type=submit]`))))
		poll("query done", `document.querySelector('#query-result').textContent.startsWith('done: ')`, 60*time.Second)
		got, err := chromedp.Run(browserCtx, chromedp.Evaluate[[]any](
			`[document.querySelectorAll('#query-responses li[data-kind="ack"]').length, document.querySelector('#query-result').textContent]`))
		step("read the query result", err)
		if len(got) != 2 {
			t.Fatalf("query result read as %v", got)
		}
		acks, result := got[0], fmt.Sprint(got[1])
		if !strings.HasPrefix(result, fmt.Sprintf("done: %v ack(s)", acks)) {
			t.Fatalf("page lists %v ack(s) but reports %q\npage text:\n%s", acks, result, pageText(browserCtx))
		}
		if acks == float64(3) {
			break
		}
		t.Logf("query %d of %d: %v ack(s) (%s), a node did not hear it\npage text:\n%s", try, queryTries, acks, result, pageText(browserCtx))
		if try == queryTries {
			t.Fatalf("no query from the page reached all three nodes in %d tries", queryTries)
		}
	}
	// Run again while the last run streams: the page shows the new run
	// alone, so its tally comes when the new run ends (its 12s timeout),
	// not when the old one does (3s).
	step("run a query twice", chromedp.Do(browserCtx,
		chromedp.SetValue(chromedp.CSS(`#query-timeout`), "3s"),
		chromedp.Click(chromedp.CSS(`#query-form button[type=submit]`)),
		chromedp.SetValue(chromedp.CSS(`#query-timeout`), "12s"),
		chromedp.Click(chromedp.CSS(`#query-form button[type=submit]`)),
	))
	second := time.Now()
	poll("second run done", `document.querySelector('#query-result').textContent.startsWith('done: ')`, 60*time.Second)
	if d := time.Since(second); d < 10*time.Second {
		t.Errorf("the page showed a tally %v into a run with a 12s timeout: the earlier run's\npage text:\n%s",
			d.Round(time.Millisecond), pageText(browserCtx))
	}

	// A member that leaves turns "left" on the page, from the stream.
	if code := c.stop(syscall.SIGINT); code != 0 {
		t.Errorf("web-c exited %d on SIGINT", code)
	}
	poll("web-c left", `document.querySelector('#members tbody tr[data-name="web-c"]')?.dataset.status === 'left' && `+
		`[...document.querySelectorAll('#feed li')].some(li => li.textContent.includes('member-leave: web-c'))`, 60*time.Second)
	leftColour, err := chromedp.Run(browserCtx, chromedp.Evaluate[string](
		`getComputedStyle(document.querySelector('#members tr[data-name="web-c"] td.status')).color`))
	step("read the status colour", err)
	aliveColour, err := chromedp.Run(browserCtx, chromedp.Evaluate[string](
		`getComputedStyle(document.querySelector('#members tr[data-name="web-a"] td.status')).color`))
	step("read the status colour", err)
	if leftColour == aliveColour {
		t.Errorf("left and alive share the colour %s", leftColour)
	}

	// Quality 100 gives a PNG, below it a JPEG.
	shot, err := chromedp.Run(browserCtx, chromedp.FullScreenshot(100))
	step("screenshot", err)
	if alive != 3 {
		t.Errorf("page lists %d alive members, want 3", alive)
	}
	if !strings.Contains(feedText, "from-chromium") {
		t.Errorf("feed lacks the payload: %q", feedText)
	}
	if !strings.Contains(mapInfo, "estimated RTT from web-a") || !strings.Contains(mapInfo, " ms") {
		t.Errorf("hover text %q", mapInfo)
	}
	png := filepath.Join(t.TempDir(), "page.png")
	if err := os.WriteFile(png, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	if out := os.Getenv("SERF_BROWSER_SHOT"); out != "" {
		// For a human to look at: the temp dir is gone after the test.
		_ = os.WriteFile(out, shot, 0o644)
	}
	t.Logf("browser test: cluster up in %v, total %v; screenshot %s (%d bytes); steps: %s",
		clusterReady.Round(time.Millisecond), time.Since(start).Round(time.Millisecond), png, len(shot),
		strings.Join(timings, ", "))

	// The event sent from the page reached the cluster.
	code, body := httpGet(t, "http://"+httpAddr+"/v1/members", "")
	var members struct {
		Members []json.RawMessage `json:"members"`
	}
	if code != http.StatusOK || json.Unmarshal([]byte(body), &members) != nil || len(members.Members) != 3 {
		t.Errorf("members after the browser run: %d %s", code, body)
	}
}
