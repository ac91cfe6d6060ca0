// The plots (uPlot): tasks running and queued, leaves running, and tasks
// finished per second, over the samples the server keeps.
import htm from 'htm';
import { h } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

const html = htm.bind(h);
const HEIGHT = 150;

const colors = { running: '#2b7bd6', leaves: '#27a35a', queued: '#f29d38', finished: '#8a5cc7' };

/** Seconds since the epoch as HH:MM:SS, local time. */
function clock(seconds) {
  return new Date(seconds * 1000).toLocaleTimeString([], { hour12: false });
}

function series(label, stroke, fill) {
  return { label, stroke, width: 2, fill, points: { show: false } };
}

const plots = {
  load: {
    title: 'Running and queued',
    series: [
      series('tasks running', colors.running, 'rgba(43,123,214,0.12)'),
      series('leaves running', colors.leaves),
      series('tasks queued', colors.queued),
    ],
    data: (ss) => [ss.map((s) => s.running), ss.map((s) => s.leaves), ss.map((s) => s.queued)],
  },
  rate: {
    title: 'Finished per second',
    series: [series('tasks finished / s', colors.finished, 'rgba(138,92,199,0.15)')],
    // A wiped job lowers the count: a rate is never below zero.
    data: (ss) => [
      ss.map((s, i) =>
        i === 0 ? 0 : Math.max(0, (s.finished - ss[i - 1].finished) / Math.max(0.001, (s.t - ss[i - 1].t) / 1000)),
      ),
    ],
  },
};

function Plot({ kind, samples }) {
  const box = useRef(null);
  const chart = useRef(null);
  const spec = plots[kind];
  const data = () => [samples.map((s) => s.t / 1000), ...spec.data(samples)];
  useEffect(() => {
    const opts = {
      width: box.current.clientWidth,
      height: HEIGHT,
      series: [{}, ...spec.series],
      scales: { y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
      axes: [
        { stroke: '#666', grid: { stroke: '#eee' }, values: (_u, ticks) => ticks.map(clock) },
        { stroke: '#666', grid: { stroke: '#eee' }, size: 40 },
      ],
      legend: { live: false },
      cursor: { drag: { x: false, y: false } },
    };
    chart.current = new uPlot(opts, data(), box.current);
    const resize = new ResizeObserver(() => chart.current.setSize({ width: box.current.clientWidth, height: HEIGHT }));
    resize.observe(box.current);
    return () => {
      resize.disconnect();
      chart.current.destroy();
    };
  }, []);
  useEffect(() => chart.current?.setData(data()), [samples]);
  return html`<section class="panel chart"><h2>${spec.title}</h2><div class="plot" data-plot=${kind} ref=${box}></div></section>`;
}

export function Charts({ samples }) {
  return html`<div class="charts"><${Plot} kind="load" samples=${samples} /><${Plot} kind="rate" samples=${samples} /></div>`;
}
