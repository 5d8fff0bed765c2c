-- Membership tier history, and training exams with certifications.

-- Every tier change with its reason; the nightly run and the per-order upgrade
-- both write here, in the same transaction as the customer's new tier.
CREATE TABLE platform.tier_changes (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id   bigint   NOT NULL REFERENCES platform.customers (id),
    old_tier_id   smallint NOT NULL REFERENCES platform.member_tiers (id),
    new_tier_id   smallint NOT NULL REFERENCES platform.member_tiers (id),
    growth_value  bigint   NOT NULL,
    reason        text     NOT NULL CHECK (reason IN ('order_completed', 'nightly_recalculation')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (old_tier_id <> new_tier_id)
);
CREATE INDEX tier_changes_customer_idx ON platform.tier_changes (customer_id);

CREATE TABLE platform.exams (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    skill                 text    NOT NULL,
    title                 text    NOT NULL,
    pass_mark             integer NOT NULL CHECK (pass_mark >= 0),
    -- Multiple choice: all points only when exactly right, or partial credit.
    multiple_choice_rule  text    NOT NULL DEFAULT 'all_or_nothing' CHECK (multiple_choice_rule IN ('all_or_nothing', 'partial')),
    certification_months  integer NOT NULL DEFAULT 12 CHECK (certification_months > 0)
);

CREATE TABLE platform.exam_questions (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    exam_id   bigint  NOT NULL REFERENCES platform.exams (id),
    position  integer NOT NULL,
    kind      text    NOT NULL CHECK (kind IN ('single_choice', 'multiple_choice', 'true_false', 'fill_in')),
    points    integer NOT NULL CHECK (points > 0),
    -- single_choice: "B"; multiple_choice: ["A","C"]; true_false: true; fill_in: ["答案", "answer"]
    answer_key jsonb  NOT NULL,
    UNIQUE (exam_id, position)
);

CREATE TABLE platform.exam_submissions (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    exam_id       bigint NOT NULL REFERENCES platform.exams (id),
    cleaner_id    bigint NOT NULL REFERENCES platform.cleaners (id),
    -- {"<question id>": answer}
    answers       jsonb  NOT NULL,
    status        text   NOT NULL DEFAULT 'submitted' CHECK (status IN ('submitted', 'graded', 'rejected')),
    score         integer,
    passed        boolean,
    rejection_reason text,
    submitted_at  timestamptz NOT NULL DEFAULT now(),
    graded_at     timestamptz,
    CHECK ((status = 'graded') = (score IS NOT NULL AND passed IS NOT NULL AND graded_at IS NOT NULL)),
    CHECK ((status = 'rejected') = (rejection_reason IS NOT NULL))
);
CREATE INDEX exam_submissions_exam_idx ON platform.exam_submissions (exam_id) WHERE status = 'graded';

CREATE TABLE platform.certifications (
    cleaner_id     bigint NOT NULL REFERENCES platform.cleaners (id),
    skill          text   NOT NULL,
    submission_id  bigint NOT NULL REFERENCES platform.exam_submissions (id),
    granted_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    PRIMARY KEY (cleaner_id, skill),
    CHECK (expires_at > granted_at)
);

-- What a regrade changed, per submission.
CREATE TABLE platform.exam_regrade_changes (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    exam_id        bigint  NOT NULL REFERENCES platform.exams (id),
    submission_id  bigint  NOT NULL REFERENCES platform.exam_submissions (id),
    old_score      integer NOT NULL,
    new_score      integer NOT NULL,
    old_passed     boolean NOT NULL,
    new_passed     boolean NOT NULL,
    regraded_at    timestamptz NOT NULL DEFAULT now()
);

INSERT INTO platform.notification_templates (code, channel, category, body, validity_minutes) VALUES
    ('exam_result', 'push', 'notice', '考试《{exam}》成绩：{score}分，{result}。', 1440);
