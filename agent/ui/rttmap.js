// The RTT map: members placed by a 2-D projection of their Vivaldi
// coordinates, and the estimated round trip time between two of them.

// rttSeconds is Serf's estimate: the Euclidean distance of the vectors
// plus both heights, plus both adjustments unless that is not positive.
export function rttSeconds(a, b) {
  if (!a || !b || a.vec.length !== b.vec.length) return NaN;
  let sum = 0;
  for (let i = 0; i < a.vec.length; i++) {
    const d = a.vec[i] - b.vec[i];
    sum += d * d;
  }
  const dist = Math.sqrt(sum) + a.height + b.height;
  const adjusted = dist + a.adjustment + b.adjustment;
  return adjusted > 0 ? adjusted : dist;
}

// project maps the vectors onto their two principal axes (the plane that
// keeps the most of their spread), found by power iteration on the
// covariance matrix. It returns one [x, y] per vector.
export function project(vectors) {
  const n = vectors.length;
  if (n === 0) return [];
  const dim = vectors[0].length;
  const mean = new Array(dim).fill(0);
  for (const v of vectors) v.forEach((x, i) => (mean[i] += x / n));
  const centred = vectors.map((v) => v.map((x, i) => x - mean[i]));
  const cov = Array.from({ length: dim }, () => new Array(dim).fill(0));
  for (const v of centred)
    for (let i = 0; i < dim; i++) for (let j = 0; j < dim; j++) cov[i][j] += v[i] * v[j];

  const axes = [];
  for (let k = 0; k < Math.min(2, dim); k++) {
    let axis = Array.from({ length: dim }, (_, i) => (i === k ? 1 : 0.5 / (i + 1)));
    for (let iter = 0; iter < 64; iter++) {
      const next = cov.map((row) => row.reduce((s, c, j) => s + c * axis[j], 0));
      for (const prev of axes) {
        const dot = next.reduce((s, x, i) => s + x * prev[i], 0);
        for (let i = 0; i < dim; i++) next[i] -= dot * prev[i];
      }
      const norm = Math.hypot(...next);
      if (norm < 1e-18) break;
      axis = next.map((x) => x / norm);
    }
    axes.push(axis);
  }
  while (axes.length < 2) axes.push(new Array(dim).fill(0));
  return centred.map((v) => axes.map((a) => v.reduce((s, x, i) => s + x * a[i], 0)));
}

const SVG = "http://www.w3.org/2000/svg";

// render draws the nodes into svg. coords is [{node, coord}], self the
// agent's own node name, statusOf(name) a member's status. onHover is
// called with a text line (or "" when the pointer leaves a node).
export function render(svg, coords, self, statusOf, onHover) {
  const W = 400, H = 300, pad = 30;
  while (svg.firstChild) svg.firstChild.remove();
  if (coords.length === 0) return;
  const pts = project(coords.map((c) => c.coord.vec));
  const xs = pts.map((p) => p[0]), ys = pts.map((p) => p[1]);
  const span = Math.max(Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys), 1e-9);
  const cx = (Math.max(...xs) + Math.min(...xs)) / 2, cy = (Math.max(...ys) + Math.min(...ys)) / 2;
  const scale = Math.min(W, H) / 2 - pad;
  const selfCoord = coords.find((c) => c.node === self);

  coords.forEach((c, i) => {
    const x = W / 2 + ((pts[i][0] - cx) / span) * 2 * scale;
    const y = H / 2 + ((pts[i][1] - cy) / span) * 2 * scale;
    const status = statusOf(c.node) || "unknown";
    const dot = document.createElementNS(SVG, "circle");
    dot.setAttribute("cx", x.toFixed(1));
    dot.setAttribute("cy", y.toFixed(1));
    dot.setAttribute("r", "7");
    dot.classList.add(`status-${status}`);
    dot.dataset.node = c.node;
    if (c.node === self) dot.classList.add("self");
    const rtt = selfCoord ? rttSeconds(selfCoord.coord, c.coord) * 1000 : NaN;
    const line = c.node === self
      ? `${c.node} (this agent)`
      : `${c.node}: estimated RTT from ${self} ${Number.isFinite(rtt) ? rtt.toFixed(3) + " ms" : "unknown"}`;
    const title = document.createElementNS(SVG, "title");
    title.textContent = line;
    dot.append(title);
    dot.addEventListener("mouseenter", () => onHover(line));
    dot.addEventListener("mouseleave", () => onHover(""));
    const label = document.createElementNS(SVG, "text");
    label.setAttribute("x", (x + 10).toFixed(1));
    label.setAttribute("y", (y + 4).toFixed(1));
    label.textContent = c.node;
    svg.append(dot, label);
  });
}
