// 3C `transferSurvey({id, sipurl})`: the customer is handed to a survey IVR. The page names a
// survey by id; its URI comes from the domains file (`surveys`), never from the page. The move is
// the queue transfer's (blind, to a fixed URI); this file holds what differs.
import type { DomainRegistry } from '@callgate/auth';

/** Where a survey transfer sends the customer: the survey's id and its `sip:` URI. */
export interface SurveyTarget {
  readonly id: string;
  readonly uri: string;
}

/**
 * The survey `surveyId` of `domain`.
 * @throws CallgateError `UNKNOWN_SURVEY` for an id the domain does not list
 */
export function surveyTarget(
  domains: Pick<DomainRegistry, 'survey'>,
  domain: string,
  surveyId: string,
): SurveyTarget {
  return { id: surveyId, uri: domains.survey(domain, surveyId) };
}

/** The transfer's `to`, as its events show it. */
export function surveyDestination(target: SurveyTarget): string {
  return `survey:${target.id}`;
}

/** The SIP user of a fixed target's URI (what the dial policy checks), else the URI itself. */
export function uriUser(uri: string): string {
  return /^sips?:([^@;?]+)@/i.exec(uri)?.[1] ?? uri;
}
