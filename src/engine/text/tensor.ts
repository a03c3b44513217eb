/** A dense float32 tensor as the encoders hand it to the pipeline. */
export interface Tensor {
  data: Float32Array;
  dims: number[];
}
