-- Parity with scikit-learn: scoring every golden case in SQL must give
-- scikit-learn's label and each class probability within 1e-9. Returns the
-- cases that differ, plus a row when the golden set is empty or was computed
-- for another model (regenerate it with the model: training.make_golden_set).

{%- set model = image_quality.gaussian_nb_model(ref('gaussian_nb_params')) %}
{%- set tolerance = 1e-9 %}

with golden as (
    select * from {{ ref('gaussian_nb_golden') }}
),

golden_cases as (
    select
        case_id,
        max(model_version) as golden_model_version,
        max(expected_label) as expected_label
    from golden
    group by case_id
),

golden_features as (
    -- one column per model feature, as the scoring macro reads them
    select
        case_id,
        {% for feature in model.features -%}
        max(case when kind = 'feature' and name = '{{ feature }}' then value end) as {{ feature }}{{ ',' if not loop.last }}
        {% endfor %}
    from golden
    group by case_id
),

scored as (
    {{ image_quality.gaussian_nb_score(
        features='golden_features',
        key_columns=['case_id'],
        params=ref('gaussian_nb_params'),
        label_column='predicted_label'
    ) | indent(4) }}
),

scored_probabilities as (
    {% for class_label in model.classes -%}
    select
        case_id,
        '{{ class_label }}' as class_label,
        p_{{ class_label }} as probability
    from scored
    {% if not loop.last %}union all
    {% endif %}
    {%- endfor %}
),

expected_probabilities as (
    select
        case_id,
        name as class_label,
        value as expected_probability
    from golden
    where kind = 'probability'
),

differing_probabilities as (
    -- a class on one side only, or a difference above the tolerance
    select
        coalesce(expected.case_id, actual.case_id) as case_id,
        coalesce(expected.class_label, actual.class_label) as class_label,
        expected.expected_probability,
        actual.probability
    from expected_probabilities as expected
    full outer join scored_probabilities as actual
        on actual.case_id = expected.case_id
        and actual.class_label = expected.class_label
    where actual.probability is null
        or expected.expected_probability is null
        or not {{ image_quality.is_finite('actual.probability') }}
        or abs(actual.probability - expected.expected_probability) > {{ tolerance }}
),

differing_cases as (
    select golden_cases.case_id
    from golden_cases
    left join scored
        on scored.case_id = golden_cases.case_id
    where scored.case_id is null
        or scored.model_version <> golden_cases.golden_model_version
        or scored.predicted_label <> golden_cases.expected_label
),

final as (
    select case_id, 'label or model differs' as problem from differing_cases
    union all
    select case_id, 'probability of ' || class_label || ' differs' as problem from differing_probabilities
    union all
    select null as case_id, 'golden set is empty' as problem
    from (select count(*) as cases from golden_cases) as counted
    where counted.cases = 0
)

select * from final
