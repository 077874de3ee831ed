/** What a fake asks of a contract checker (tests inject one that reads ../shared/contracts). */
export interface ContractCheck {
  checkRequest(method: string, path: string, query: URLSearchParams, body: unknown): string[];
  checkResponse(method: string, path: string, status: number, body: unknown): string[];
}
