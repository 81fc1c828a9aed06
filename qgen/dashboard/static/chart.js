// A sparkline in an <svg>: the values as a line scaled to the box, the last one as text.
const SVG = "http://www.w3.org/2000/svg";

export function drawSparkline(svg, values, unit = "/s") {
  const width = Number(svg.getAttribute("width")) || 120;
  const height = Number(svg.getAttribute("height")) || 28;
  const textWidth = 40;
  const plot = width - textWidth;
  svg.replaceChildren();
  if (values.length === 0) return;
  const max = Math.max(...values, 1e-9);
  const step = values.length > 1 ? plot / (values.length - 1) : 0;
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${(height - 2 - (v / max) * (height - 4)).toFixed(1)}`);
  const line = document.createElementNS(SVG, "polyline");
  line.setAttribute("points", points.join(" "));
  line.setAttribute("class", "spark");
  const label = document.createElementNS(SVG, "text");
  label.setAttribute("x", String(width - 2));
  label.setAttribute("y", String(height / 2 + 4));
  label.setAttribute("text-anchor", "end");
  const last = values[values.length - 1];
  label.textContent = `${last >= 10 ? last.toFixed(0) : last.toFixed(1)}${unit}`;
  svg.append(line, label);
}
