/** The two images cannot be compared: different sizes, not RGB, or the border crop leaves too little. */
export class MetricInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MetricInputError';
  }
}
