import type { CrmTab } from './pages.js';

/**
 * Level and zero-crossing frequency of the page's remote audio (the call's far end), over ~300 ms,
 * measured with WebAudio on the stream of `#callgate-remote-audio`. `frequency` is null below a level
 * of 0.005 (silence).
 */
export async function pageHears(tab: CrmTab): Promise<{ level: number; frequency: number | null }> {
  return tab.page.evaluate(async () => {
    const w = window as unknown as { __ears?: { analyser: AnalyserNode; stream: MediaStream } };
    const el = document.getElementById('callgate-remote-audio') as HTMLMediaElement | null;
    if (!(el?.srcObject instanceof MediaStream)) return { level: 0, frequency: null };
    if (w.__ears?.stream !== el.srcObject) {
      const context = new AudioContext();
      await context.resume();
      const analyser = context.createAnalyser();
      analyser.fftSize = 16384;
      context.createMediaStreamSource(el.srcObject).connect(analyser);
      w.__ears = { analyser, stream: el.srcObject };
      await new Promise((resolve) => setTimeout(resolve, 400));
    }
    const analyser = w.__ears.analyser;
    const samples = new Float32Array(analyser.fftSize);
    analyser.getFloatTimeDomainData(samples);
    let sum = 0;
    let crossings = 0;
    for (let i = 0; i < samples.length; i++) {
      const s = samples[i] ?? 0;
      sum += s * s;
      if (i > 0 && (samples[i - 1] ?? 0) < 0 && s >= 0) crossings++;
    }
    const level = Math.sqrt(sum / samples.length);
    const seconds = samples.length / analyser.context.sampleRate;
    return { level, frequency: level > 0.005 ? crossings / seconds : null };
  });
}
