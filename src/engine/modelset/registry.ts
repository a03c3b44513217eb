// Every component converter, in conversion order. Each lives next to its graph builder; add one line here.
import type { ComponentConverter } from './component.ts';

export const componentConverters: ComponentConverter[] = [];
