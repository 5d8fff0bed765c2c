-- Text and configuration rules the database enforces for every writer.

-- "Blank": empty once every Unicode whitespace character is removed — the
-- White_Space property (tab to carriage return, space, NEL, NBSP, ogham space,
-- the en/em/thin/hair spaces, line and paragraph separators, narrow NBSP,
-- medium mathematical space, the ideographic space) plus the invisible
-- zero-width characters (Mongolian vowel separator, zero-width space, non-joiner
-- and joiner, word joiner, byte-order mark). The same list is
-- `UnicodeText.whitespace` in Swift; a test checks both agree on every code point.
-- In the queue schema, the lowest layer, so queue and platform rules share it.
-- Every role may call it (PUBLIC, as for any new function): the worker's payout
-- statement and the CHECK constraints of any writer use it.
CREATE FUNCTION queue.is_blank(value text) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN btrim(value, U&'\0009\000A\000B\000C\000D\0020\0085\00A0\1680\2000\2001\2002\2003\2004\2005\2006\2007\2008\2009\200A\2028\2029\202F\205F\3000\180E\200B\200C\200D\2060\FEFF') = '';

-- A configuration error is a check_violation whose constraint names the table's
-- rule and whose message says what is wrong, raised when the change is saved.

-- Tiers: named, one of them at growth 0 (everyone has a tier), thresholds rising
-- with the tier id (the id is the tier's rank: upgrades compare positions).
ALTER TABLE platform.member_tiers ADD CONSTRAINT member_tiers_name_not_blank CHECK (NOT queue.is_blank(name));

CREATE FUNCTION platform.check_member_tiers() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    out_of_order record;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM platform.member_tiers WHERE threshold = 0) THEN
        RAISE EXCEPTION 'member tiers: no tier starts at growth value 0, so new members would have no tier'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'member_tiers_valid',
                  HINT = 'keep a tier with threshold 0 (普通 by default)';
    END IF;
    SELECT a.id AS lower_id, a.threshold AS lower_threshold, b.id AS higher_id, b.threshold AS higher_threshold
    INTO out_of_order
    FROM platform.member_tiers AS a JOIN platform.member_tiers AS b ON b.id > a.id AND b.threshold <= a.threshold
    ORDER BY a.id, b.id LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'member tiers: tier % needs more growth (%) than the higher tier % (%); thresholds must rise with the tier id',
            out_of_order.lower_id, out_of_order.lower_threshold, out_of_order.higher_id, out_of_order.higher_threshold
            USING ERRCODE = 'check_violation', CONSTRAINT = 'member_tiers_valid';
    END IF;
    RETURN NULL;
END $$;
-- Checked at commit, once per statement's rows: a table edited in several
-- statements of one transaction is judged as saved.
CREATE CONSTRAINT TRIGGER member_tiers_valid AFTER INSERT OR UPDATE OR DELETE ON platform.member_tiers
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION platform.check_member_tiers();

-- Bonus and penalty rules: the two codes payouts read, a bonus never negative and
-- a penalty never positive (payout lines store both as amounts ≥ 0), described.
ALTER TABLE platform.payout_rules
    ADD CONSTRAINT payout_rules_known CHECK (
        (code = 'five_star_review' AND amount_fen >= 0) OR (code = 'upheld_complaint' AND amount_fen <= 0)),
    ADD CONSTRAINT payout_rules_description_not_blank CHECK (NOT queue.is_blank(description));

CREATE FUNCTION platform.check_payout_rules() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    missing text;
BEGIN
    SELECT string_agg(needed.code, ', ') INTO missing
    FROM unnest(ARRAY['five_star_review', 'upheld_complaint']) AS needed(code)
    WHERE NOT EXISTS (SELECT 1 FROM platform.payout_rules AS r WHERE r.code = needed.code);
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'payout rules: % missing; payouts need both five_star_review and upheld_complaint', missing
            USING ERRCODE = 'check_violation', CONSTRAINT = 'payout_rules_complete';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER payout_rules_complete AFTER DELETE OR UPDATE ON platform.payout_rules
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION platform.check_payout_rules();

-- Commission: every cleaner level has a rate (an order of a level without one
-- would silently never be settled).
CREATE FUNCTION platform.check_commission_rates() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    missing text;
BEGIN
    SELECT string_agg(needed.level, ', ') INTO missing
    FROM unnest(ARRAY['新手', '熟练', '金牌']) AS needed(level)
    WHERE NOT EXISTS (SELECT 1 FROM platform.commission_rates AS r WHERE r.level = needed.level);
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'commission rates: no rate for level %; every cleaner level needs one', missing
            USING ERRCODE = 'check_violation', CONSTRAINT = 'commission_rates_complete';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER commission_rates_complete AFTER DELETE OR UPDATE ON platform.commission_rates
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION platform.check_commission_rates();

-- Templates and coupon kinds are shown to people: never blank.
ALTER TABLE platform.notification_templates ADD CONSTRAINT notification_templates_body_not_blank
    CHECK (NOT queue.is_blank(body));
ALTER TABLE platform.coupon_templates ADD CONSTRAINT coupon_templates_name_not_blank CHECK (NOT queue.is_blank(name));

-- Exams: choice questions declare their options; the answer key must be among
-- them. Questions saved before this migration get the options A–D plus whatever
-- their key names (the letters every exam so far used).
ALTER TABLE platform.exam_questions ADD COLUMN options jsonb;
UPDATE platform.exam_questions AS q SET options = (
    SELECT jsonb_agg(o ORDER BY o) FROM (
        SELECT unnest(ARRAY['A', 'B', 'C', 'D']) AS o
        UNION
        SELECT k FROM jsonb_array_elements_text(
            CASE jsonb_typeof(q.answer_key) WHEN 'array' THEN q.answer_key ELSE jsonb_build_array(q.answer_key) END) AS k
    ) AS all_options)
WHERE kind IN ('single_choice', 'multiple_choice');
ALTER TABLE platform.exams ADD CONSTRAINT exams_title_not_blank CHECK (NOT queue.is_blank(title)),
    ADD CONSTRAINT exams_skill_not_blank CHECK (NOT queue.is_blank(skill));

-- Why one question cannot be graded as defined, or NULL when it can.
CREATE FUNCTION platform.exam_question_problem(kind text, options jsonb, answer_key jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    option_texts text[];
    key_texts text[];
BEGIN
    IF kind IN ('single_choice', 'multiple_choice') THEN
        IF options IS NULL OR jsonb_typeof(options) <> 'array'
           OR EXISTS (SELECT 1 FROM jsonb_array_elements(options) AS o WHERE jsonb_typeof(o) <> 'string') THEN
            RETURN 'a choice question needs its options as a list of texts';
        END IF;
        option_texts := ARRAY(SELECT jsonb_array_elements_text(options));
        IF cardinality(option_texts) < 2 THEN
            RETURN 'a choice question needs at least two options';
        END IF;
        IF EXISTS (SELECT 1 FROM unnest(option_texts) AS o WHERE queue.is_blank(o)) THEN
            RETURN 'an option is blank';
        END IF;
        IF (SELECT count(DISTINCT o) FROM unnest(option_texts) AS o) <> cardinality(option_texts) THEN
            RETURN 'options repeat';
        END IF;
        IF kind = 'single_choice' THEN
            IF jsonb_typeof(answer_key) <> 'string' THEN
                RETURN 'the answer of a single-choice question is one option (a text)';
            END IF;
            IF NOT (answer_key #>> '{}') = ANY (option_texts) THEN
                RETURN format('the answer %s is not among the options %s', answer_key, options);
            END IF;
        ELSE
            IF jsonb_typeof(answer_key) <> 'array'
               OR EXISTS (SELECT 1 FROM jsonb_array_elements(answer_key) AS k WHERE jsonb_typeof(k) <> 'string') THEN
                RETURN 'the answer of a multiple-choice question is a list of options';
            END IF;
            key_texts := ARRAY(SELECT jsonb_array_elements_text(answer_key));
            IF cardinality(key_texts) = 0 THEN
                RETURN 'the answer of a multiple-choice question names no option';
            END IF;
            IF (SELECT count(DISTINCT k) FROM unnest(key_texts) AS k) <> cardinality(key_texts) THEN
                RETURN 'the answer repeats an option';
            END IF;
            IF NOT key_texts <@ option_texts THEN
                RETURN format('the answer %s names options not among %s', answer_key, options);
            END IF;
        END IF;
    ELSE
        IF options IS NOT NULL THEN
            RETURN format('a %s question has no options', kind);
        END IF;
        IF kind = 'true_false' AND jsonb_typeof(answer_key) <> 'boolean' THEN
            RETURN 'the answer of a true/false question is true or false';
        END IF;
        IF kind = 'fill_in' THEN
            IF jsonb_typeof(answer_key) <> 'array'
               OR EXISTS (SELECT 1 FROM jsonb_array_elements(answer_key) AS k WHERE jsonb_typeof(k) <> 'string') THEN
                RETURN 'the answer of a fill-in question is a list of accepted texts';
            END IF;
            IF jsonb_array_length(answer_key) = 0 THEN
                RETURN 'a fill-in question accepts no answer';
            END IF;
            IF EXISTS (SELECT 1 FROM jsonb_array_elements_text(answer_key) AS k WHERE queue.is_blank(k)) THEN
                RETURN 'an accepted answer is blank';
            END IF;
        END IF;
    END IF;
    RETURN NULL;
END $$;

-- An exam is saved whole: every question gradable and the pass mark reachable.
CREATE FUNCTION platform.check_exam() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    exam bigint;
    problem record;
    total bigint;
    mark integer;
BEGIN
    IF TG_TABLE_NAME = 'exams' THEN
        exam := NEW.id;
    ELSIF TG_OP = 'DELETE' THEN
        exam := OLD.exam_id;
    ELSE
        exam := NEW.exam_id;
    END IF;
    SELECT q.position, platform.exam_question_problem(q.kind, q.options, q.answer_key) AS reason INTO problem
    FROM platform.exam_questions AS q
    WHERE q.exam_id = exam AND platform.exam_question_problem(q.kind, q.options, q.answer_key) IS NOT NULL
    ORDER BY q.position LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'exam %, question %: %', exam, problem.position, problem.reason
            USING ERRCODE = 'check_violation', CONSTRAINT = 'exam_valid';
    END IF;
    SELECT e.pass_mark, (SELECT COALESCE(sum(q.points), 0) FROM platform.exam_questions AS q WHERE q.exam_id = e.id)
    INTO mark, total FROM platform.exams AS e WHERE e.id = exam;
    IF FOUND AND mark > total THEN
        RAISE EXCEPTION 'exam %: the pass mark % is more than all its questions give (%), so nobody could pass', exam, mark, total
            USING ERRCODE = 'check_violation', CONSTRAINT = 'exam_valid';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER exam_valid AFTER INSERT OR UPDATE ON platform.exams
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION platform.check_exam();
CREATE CONSTRAINT TRIGGER exam_questions_valid AFTER INSERT OR UPDATE OR DELETE ON platform.exam_questions
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION platform.check_exam();

-- Trigger functions fire whoever writes; nobody needs to call them.
REVOKE EXECUTE ON FUNCTION platform.check_member_tiers(), platform.check_payout_rules(),
    platform.check_commission_rates(), platform.check_exam(), platform.exam_question_problem(text, jsonb, jsonb)
    FROM PUBLIC;

-- The 24-hour reminder named the day as "明天" whatever the day was; the day
-- word is now a parameter computed in the business time zone.
UPDATE platform.notification_templates
SET body = '【洁家】您预约的{service}将于{day}{time}开始，地址：{address}。'
WHERE code = 'order_reminder_24h';
