import { runTransformerConformance } from './src/conformance/transformer.ts';
const modes: any[] = [{ precision: 'fp16' }, { quant: 'int8' }, { quant: 'int4' }, { precision: 'fp16', quant: 'int4' }, { precision: 'fp16', quant: 'int8' }, { quant: 'int4', blockSize: 32 }];
for (const m of modes) {
  try {
    const lines = await runTransformerConformance('tests/fixtures/golden/transformer', m);
    for (const l of lines) console.log(JSON.stringify(m), l.name, l.maxAbs.toExponential(2), l.relL2?.toExponential(2), l.pass);
  } catch (e) { console.log(JSON.stringify(m), 'ERR', String(e).slice(0, 400)); }
}
