// The chart's band (the usual range) and its flagged markers, drawn by the
// app over the plot area plotly.js laid out.
//
// plotly.js re-computes and re-draws every trace on any data change: about
// 17 ms for this chart on a 2-core machine (Plotly.restyle of the band and
// markers; a full Plotly.react 13 ms, a title-only relayout 5 ms), which is
// a whole frame before the engine and the table have run. A slider move
// changes only the band and the markers, so they are two SVG paths the app
// owns, placed with plotly's own axis scales: well under a millisecond.
// plotly still draws everything else once per series (axes, values,
// baseline, the other markers, the legend), and `plotly_afterplot` redraws
// the overlay whenever plotly moves the axes (zoom, pan, autoscale).

const SVG = 'http://www.w3.org/2000/svg';

// The overlay's group in plotly's plot area (clipped like the traces),
// made when missing: below the traces for the band, above for the markers.
function layer(plot, name, below) {
  let g = plot.querySelector(`:scope > g.${name}`);
  if (!g) {
    g = document.createElementNS(SVG, 'g');
    g.setAttribute('class', name);
    g.appendChild(document.createElementNS(SVG, 'path'));
    const traces = plot.querySelector(':scope > g.scatterlayer');
    plot.insertBefore(g, below ? traces : null);
  }
  return g.firstChild;
}

function draw(gd) {
  const o = gd.swBand;
  const full = gd._fullLayout;
  const plot = gd.querySelector('.overplot .xy');
  if (!o || !full || !plot) return;
  const xa = full.xaxis;
  const ya = full.yaxis;
  // The days' x positions change with the x axis only (zoom, pan, a new
  // series), not with a slider move.
  const xKey = `${xa._length} ${xa.range.join(' ')}`;
  if (o.xKey !== xKey) {
    o.x = o.days.map((d) => xa.d2p(d));
    o.xKey = xKey;
  }
  const x = o.x;
  const n = x.length;
  let d = '';
  for (let i = 0; i < n; i++) d += `${i ? 'L' : 'M'}${x[i].toFixed(1)},${ya.l2p(o.upper[i]).toFixed(1)}`;
  for (let i = n - 1; i >= 0; i--) d += `L${x[i].toFixed(1)},${ya.l2p(o.lower[i]).toFixed(1)}`;
  // A legend click hides the band or the markers as it would a trace.
  const hidden = (trace) => gd.data?.[trace]?.visible === 'legendonly';
  const band = layer(plot, 'sw-band', true);
  band.setAttribute('d', n && !hidden(o.bandTrace) ? `${d}Z` : '');
  band.setAttribute('fill', o.fill);
  // Each flagged day a circle (two arcs), all in one path.
  let m = '';
  const r = o.size / 2;
  for (let i = 0; i < o.flaggedDays.length; i++) {
    const cx = xa.d2p(o.flaggedDays[i]);
    const cy = ya.l2p(o.flaggedValues[i]);
    m += `M${(cx - r).toFixed(1)},${cy.toFixed(1)}a${r},${r} 0 1,0 ${2 * r},0a${r},${r} 0 1,0 ${-2 * r},0`;
  }
  const marks = layer(plot, 'sw-flagged', false);
  marks.setAttribute('d', hidden(o.flaggedTrace) ? '' : m);
  marks.setAttribute('fill', o.colour);
}

// Draws (or redraws) the band and markers of chart `id`; `bandTrace` and
// `flaggedTrace` are their legend entries' traces. `days` come with a new
// series only (null: the series drawn before). The arrays are copied: the
// numeric ones are views into wasm memory.
export function drawBand(id, days, upper, lower, flaggedDays, flaggedValues, fill, colour, size, bandTrace, flaggedTrace) {
  const gd = document.getElementById(id);
  if (!gd) return;
  const kept = days ? null : gd.swBand ?? {};
  gd.swBand = {
    days: days ?? kept.days ?? [], x: kept?.x, xKey: kept?.xKey,
    upper: Float64Array.from(upper), lower: Float64Array.from(lower),
    flaggedDays, flaggedValues: Float64Array.from(flaggedValues), fill, colour, size, bandTrace, flaggedTrace,
  };
  if (!gd.swBandListening && gd.on) {
    gd.on('plotly_afterplot', () => draw(gd));
    gd.swBandListening = true;
  }
  draw(gd);
}
