import type { Sample } from "../src/api";

/** A sample as the server's /samples route returns it. */
export function sample(id: number, patch: Partial<Sample> = {}): Sample {
  return {
    id,
    run: id % 2 ? "tesseract__vqa__q" : "rapidocr__vqa__q",
    sample_id: `doc-${Math.floor(id / 2)}`,
    question: `What is field ${id}?`,
    reference: `answer ${id}`,
    answer: id % 3 ? `answer ${id}` : "wrong",
    scores: { anls: id % 3 ? 1 : 0.25, cer: id % 3 ? 0 : 0.8 },
    latency_s: (id % 10) / 10,
    doc_class: ["passport", "snils", "invoice"][id % 3],
    question_type: id % 2 ? "date" : "name",
    image_url: `/api/experiments/1/samples/${id}/image`,
    metadata: {},
    ...patch,
  };
}
